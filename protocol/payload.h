// JSON bodies of requests and the normalisation of device reports (docs/protocol.md §4.1, §4.8, §6.1).
// Key order and compactness are part of the wire format: builders return exact strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/constants.h"
#include "protocol/errors.h"

namespace t2m::proto {

// Who a request is for: a device, or a sub-device (`cid`, its node id) behind a gateway `dev_id`.
struct Target {
  std::string dev_id;
  std::optional<std::string> cid;
};

// The command ids a session uses for its version and mode.
uint32_t query_command(Version v, bool device22);  // 0x0A, 0x10, or 0x0D for device22
uint32_t control_command(Version v);               // 0x07 or 0x0D

// DP_QUERY / DP_QUERY_NEW / device22 query body. `null_dps` lists the DP ids to ask for in device22 mode
// ({"1":null,...}); ignored otherwise. `unix_s` is the current time in seconds.
std::string build_query(Version v, bool device22, const Target& target, int64_t unix_s,
                        const std::vector<std::string>& null_dps = {});
// CONTROL / CONTROL_NEW body; `dps` is an object of DP id (string) -> wire value.
std::string build_control(Version v, const Target& target, int64_t unix_s, const nlohmann::json& dps);
std::string build_heartbeat(const Target& target);
std::string build_updatedps(const std::vector<int>& dp_ids);
// Gateway extension query for sub-device online state (LAN_EXT_STREAM, 3.4+).
std::string build_subdev_online_query();

// Parses untrusted JSON without throwing: nullopt when `text` is not JSON or nests deeper than
// MAX_JSON_DEPTH (deep nesting would make copies and destruction recurse without bound).
constexpr size_t MAX_JSON_DEPTH = 32;
std::optional<nlohmann::json> parse_json(std::string_view text);

// A DP report in any of its shapes ({"devId","dps","t"}, {"protocol":4,"data":{"dps","cid"}}, ...),
// normalised.
struct DpReport {
  nlohmann::json dps = nlohmann::json::object();  // DP id -> wire value
  std::optional<std::string> dev_id;
  std::optional<std::string> cid;
  std::optional<int64_t> t;  // seconds
};
PResult<DpReport> parse_report(std::string_view payload);

// Device-side helpers for the simulator: parse what a client sent.
struct ControlRequest {
  nlohmann::json dps = nlohmann::json::object();
  std::optional<std::string> cid;
  std::optional<std::string> dev_id;
};
PResult<ControlRequest> parse_control(std::string_view payload);  // CONTROL/CONTROL_NEW/device22 query
PResult<std::vector<int>> parse_updatedps(std::string_view payload);
// Builds what a device sends: a STATUS / query reply body for its version ({"devId","dps","t"} for <=3.3,
// {"protocol":4,"t","data":{"dps"[,"cid"]}} for 3.4/3.5).
std::string build_report(Version v, const Target& target, int64_t unix_s, const nlohmann::json& dps);

}  // namespace t2m::proto
