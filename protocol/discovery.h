// UDP discovery (docs/protocol.md §7): decode 6666 / 6667 / 7000 packets, build the 3.5 request and,
// for the simulator, broadcasts. Always classified by prefix, never by port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "protocol/constants.h"
#include "protocol/errors.h"

namespace t2m::proto {

struct Announcement {
  std::string ip;
  std::string gw_id;  // the device id
  std::string product_key;
  std::optional<Version> version;
  bool encrypt = false;
  int active = 0;
  bool from_app = false;  // another client's 0x25 request ({"from":"app"}): ignore
  nlohmann::json raw = nlohmann::json::object();
};

PResult<Announcement> decode_discovery(ByteView datagram);

// The client's 0x25 request to UDP 7000: 6699, seq 0, GCM with UDP_KEY, no retcode.
Bytes encode_discovery_request(std::string_view client_ip, ByteView iv);
// A device broadcast: 3.1 plaintext 55AA (6666), 3.2-3.4 ECB 55AA cmd 0x13 (6667), 3.5 GCM 6699 (6667;
// also the unicast answer to a request on 7000). `info` is the JSON object (ip, gwId, version, ...).
// `iv` (12 bytes) is required for 3.5 (empty result otherwise). `seqno` is 0 in real broadcasts.
Bytes encode_broadcast(Version v, const nlohmann::json& info, ByteView iv = {}, uint32_t seqno = 0);
// The same with the JSON text given verbatim (real devices' key order, which nlohmann::json would sort).
Bytes encode_broadcast_text(Version v, std::string_view info_json, ByteView iv = {}, uint32_t seqno = 0);

}  // namespace t2m::proto
