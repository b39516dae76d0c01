#include "protocol/discovery.h"

#include "protocol/crypto.h"
#include "protocol/frame.h"
#include "protocol/payload.h"
#include "protocol/wire_util.h"

namespace t2m::proto {

namespace {

ByteView udp_key() {
  return ByteView(UDP_KEY, sizeof(UDP_KEY));
}

bool starts_with_brace(ByteView p) {
  return !p.empty() && p[0] == '{';
}

PResult<Bytes> decrypt_ecb_blob(ByteView blob) {
  auto plain = crypto::aes_ecb_decrypt(udp_key(), blob);
  if (!plain)
    return proto_fail(ErrorCode::BAD_PADDING, "discovery payload does not decrypt with the UDP key");
  return std::move(*plain);
}

PResult<Announcement> parse_announcement(ByteView json_bytes) {
  // Some senders pad with NULs after the JSON.
  while (!json_bytes.empty() && json_bytes.back() == 0) json_bytes = json_bytes.first(json_bytes.size() - 1);
  auto j = parse_json(as_chars(json_bytes));
  if (!j || !j->is_object()) return proto_fail(ErrorCode::NOT_JSON, "discovery payload is not a JSON object");
  Announcement a;
  const auto& o = *j;
  auto str = [&o](const char* k) -> std::string {
    auto it = o.find(k);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  a.ip = str("ip");
  a.gw_id = str("gwId");
  a.product_key = str("productKey");
  a.version = parse_version(str("version"));
  if (auto it = o.find("encrypt"); it != o.end() && it->is_boolean()) a.encrypt = it->get<bool>();
  if (auto it = o.find("active"); it != o.end() && it->is_number_integer()) {
    const auto v = it->get<int64_t>();
    a.active = v >= 0 && v <= 0xFFFF ? static_cast<int>(v) : 0;
  }
  a.from_app = str("from") == "app";
  if (!a.from_app && a.gw_id.empty()) return proto_fail(ErrorCode::NOT_JSON, "discovery JSON has no gwId");
  a.raw = std::move(*j);
  return a;
}

}  // namespace

PResult<Announcement> decode_discovery(ByteView datagram) {
  const auto peek = peek_header(datagram);
  if (peek && !peek->is_6699) {
    auto f = decode_55aa(datagram, Integrity::CRC32, {}, Direction::FROM_DEVICE);
    if (!f) return fail(f.error());
    // Plaintext (3.1) when it reads as JSON; a ciphertext may also start with '{' by chance.
    if (starts_with_brace(f->payload)) {
      auto a = parse_announcement(f->payload);
      if (a || f->payload.size() % crypto::AES_BLOCK_SIZE != 0) return a;
    }
    auto plain = decrypt_ecb_blob(f->payload);
    if (!plain) return fail(plain.error());
    return parse_announcement(*plain);
  }
  if (peek && peek->is_6699) {
    // Requests ({"from":"app"}) carry no retcode; decode_6699 keeps a plaintext starting with '{' whole.
    auto f = decode_6699(datagram, udp_key(), Direction::FROM_DEVICE);
    if (!f) return fail(f.error());
    return parse_announcement(f->payload);
  }
  if (starts_with_brace(datagram)) {
    auto a = parse_announcement(datagram);
    if (a || datagram.size() % crypto::AES_BLOCK_SIZE != 0) return a;
  }
  // No frame header: some firmwares send the bare ECB blob.
  if (datagram.empty() || datagram.size() % crypto::AES_BLOCK_SIZE != 0) {
    return proto_fail(ErrorCode::BAD_PREFIX, "datagram is neither a 55AA/6699 frame nor an ECB blob");
  }
  auto plain = decrypt_ecb_blob(datagram);
  if (!plain) return fail(plain.error());
  return parse_announcement(*plain);
}

Bytes encode_discovery_request(std::string_view client_ip, ByteView iv) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["from"] = "app";
  j["ip"] = client_ip;
  Frame f;
  f.seqno = 0;
  f.cmd = static_cast<uint32_t>(Command::REQ_DEVINFO);
  detail::append(f.payload, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return encode_6699(f, udp_key(), iv);
}

Bytes encode_broadcast(Version v, const nlohmann::json& info, ByteView iv, uint32_t seqno) {
  return encode_broadcast_text(v, info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), iv,
                               seqno);
}

Bytes encode_broadcast_text(Version v, std::string_view info_json, ByteView iv, uint32_t seqno) {
  Frame f;
  f.seqno = seqno;
  f.retcode = 0;
  switch (v) {
    case Version::V3_1:
      f.cmd = static_cast<uint32_t>(Command::UDP);
      detail::append(f.payload, info_json);
      return encode_55aa(f, Integrity::CRC32);
    case Version::V3_2:
    case Version::V3_3:
    case Version::V3_4: {
      f.cmd = static_cast<uint32_t>(Command::UDP_NEW);
      auto ct = crypto::aes_ecb_encrypt(udp_key(), as_bytes(info_json));
      if (!ct) return {};
      f.payload = std::move(*ct);
      return encode_55aa(f, Integrity::CRC32);
    }
    case Version::V3_5:
      f.cmd = static_cast<uint32_t>(Command::UDP_NEW);
      detail::append(f.payload, info_json);
      return encode_6699(f, udp_key(), iv);
  }
  return {};
}

}  // namespace t2m::proto
