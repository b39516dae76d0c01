#include "protocol/payload.h"

#include <limits>
#include <string>

#include "common/json_input.h"
#include "protocol/message.h"

namespace t2m::proto {

namespace {

using OJson = nlohmann::ordered_json;

// The CONTROL_NEW "protocol" value clients send, and the one devices report (docs/protocol.md §4.8, §6.2).
constexpr int CONTROL_NEW_PROTOCOL = 5;
constexpr int REPORT_PROTOCOL = 4;
constexpr int CTYPE = 0;
constexpr std::string_view SUBDEV_ONLINE_QUERY = "subdev_online_stat_query";

// Never throws: invalid UTF-8 in a string is replaced rather than rejected.
std::string dump(const OJson& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// nlohmann::json (sorted) -> ordered_json, keeping the given object's (sorted) order.
OJson ordered(const nlohmann::json& j) {
  if (!j.is_object()) return OJson::object();
  return OJson::parse(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string time_string(int64_t unix_s) {
  return std::to_string(unix_s);
}

bool depth_within_limit(std::string_view text) {
  return json_depth(text, MAX_JSON_DEPTH + 1) <= MAX_JSON_DEPTH;
}

std::optional<std::string> string_field(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// "t" may be an integer or a string of digits.
std::optional<int64_t> time_field(const nlohmann::json& obj) {
  auto it = obj.find("t");
  if (it == obj.end()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const auto u = it->get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(u);
    return std::nullopt;
  }
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    return std::stoll(s);
  }
  return std::nullopt;
}

PResult<nlohmann::json> parse_object(std::string_view payload) {
  if (classify_payload(payload) == PayloadKind::DEVICE_ERROR) {
    return proto_fail(ErrorCode::DEVICE_ERROR, std::string(payload.substr(0, 64)));
  }
  auto j = parse_json(payload);
  if (!j) return proto_fail(ErrorCode::NOT_JSON, "payload is not JSON");
  if (!j->is_object()) return proto_fail(ErrorCode::NOT_JSON, "payload is not a JSON object");
  return std::move(*j);
}

// The "data" object of 3.4/3.5 messages, or the top level.
const nlohmann::json* data_object(const nlohmann::json& top) {
  auto it = top.find("data");
  if (it != top.end() && it->is_object()) return &*it;
  return nullptr;
}

struct DpsCidDev {
  nlohmann::json dps = nlohmann::json::object();
  bool has_dps = false;
  std::optional<std::string> cid;
  std::optional<std::string> dev_id;
};

PResult<DpsCidDev> extract(const nlohmann::json& top) {
  DpsCidDev out;
  const nlohmann::json* data = data_object(top);
  const nlohmann::json* dps = nullptr;
  if (auto it = top.find("dps"); it != top.end()) dps = &*it;
  if (!dps && data) {
    if (auto it = data->find("dps"); it != data->end()) dps = &*it;
  }
  if (dps) {
    if (!dps->is_object()) return proto_fail(ErrorCode::NOT_JSON, "\"dps\" is not an object");
    out.dps = *dps;
    out.has_dps = true;
  }
  out.cid = string_field(top, "cid");
  if (!out.cid && data) out.cid = string_field(*data, "cid");
  out.dev_id = string_field(top, "devId");
  if (!out.dev_id && data) out.dev_id = string_field(*data, "devId");
  return out;
}

}  // namespace

std::optional<nlohmann::json> parse_json(std::string_view text) {
  if (!depth_within_limit(text)) return std::nullopt;
  auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

uint32_t query_command(Version v, bool device22) {
  if (device22) return static_cast<uint32_t>(Command::CONTROL_NEW);
  return static_cast<uint32_t>(needs_session_key(v) ? Command::DP_QUERY_NEW : Command::DP_QUERY);
}

uint32_t control_command(Version v) {
  return static_cast<uint32_t>(needs_session_key(v) ? Command::CONTROL_NEW : Command::CONTROL);
}

std::string build_query(Version v, bool device22, const Target& target, int64_t unix_s,
                        const std::vector<std::string>& null_dps) {
  OJson j = OJson::object();
  if (target.cid) {
    if (!needs_session_key(v)) j["t"] = unix_s;
    j["cid"] = *target.cid;
    return dump(j);
  }
  if (device22) {
    OJson dps = OJson::object();
    if (null_dps.empty()) {
      dps["1"] = nullptr;  // a device22 query must name at least one DP
    } else {
      for (const auto& id : null_dps) dps[id] = nullptr;
    }
    j["devId"] = target.dev_id;
    j["uid"] = target.dev_id;
    j["t"] = time_string(unix_s);
    j["dps"] = std::move(dps);
    return dump(j);
  }
  if (needs_session_key(v)) return "{}";
  j["gwId"] = target.dev_id;
  j["devId"] = target.dev_id;
  j["uid"] = target.dev_id;
  j["t"] = time_string(unix_s);
  return dump(j);
}

std::string build_control(Version v, const Target& target, int64_t unix_s, const nlohmann::json& dps) {
  OJson j = OJson::object();
  if (needs_session_key(v)) {
    OJson data = OJson::object();
    if (target.cid) {
      data["cid"] = *target.cid;
      data["ctype"] = CTYPE;
    }
    data["dps"] = ordered(dps);
    j["protocol"] = CONTROL_NEW_PROTOCOL;
    j["t"] = unix_s;
    j["data"] = std::move(data);
    if (target.cid) j["cid"] = *target.cid;
    return dump(j);
  }
  if (target.cid) {
    j["t"] = unix_s;
    j["cid"] = *target.cid;
  } else {
    j["devId"] = target.dev_id;
    j["uid"] = target.dev_id;
    j["t"] = time_string(unix_s);
  }
  j["dps"] = ordered(dps);
  return dump(j);
}

std::string build_heartbeat(const Target& target) {
  OJson j = OJson::object();
  j["gwId"] = target.dev_id;
  j["devId"] = target.dev_id;
  return dump(j);
}

std::string build_updatedps(const std::vector<int>& dp_ids) {
  OJson j = OJson::object();
  j["dpId"] = dp_ids;
  return dump(j);
}

std::string build_subdev_online_query() {
  OJson j = OJson::object();
  j["reqType"] = SUBDEV_ONLINE_QUERY;
  j["data"] = OJson{{"cids", OJson::array()}};
  return dump(j);
}

PResult<DpReport> parse_report(std::string_view payload) {
  auto top = parse_object(payload);
  if (!top) return fail(top.error());
  auto fields = extract(*top);
  if (!fields) return fail(fields.error());
  DpReport r;
  r.dps = std::move(fields->dps);
  r.dev_id = std::move(fields->dev_id);
  r.cid = std::move(fields->cid);
  r.t = time_field(*top);
  if (!r.t) {
    if (const auto* data = data_object(*top)) r.t = time_field(*data);
  }
  return r;
}

PResult<ControlRequest> parse_control(std::string_view payload) {
  auto top = parse_object(payload);
  if (!top) return fail(top.error());
  auto fields = extract(*top);
  if (!fields) return fail(fields.error());
  if (!fields->has_dps) return proto_fail(ErrorCode::NOT_JSON, "control request has no \"dps\" object");
  ControlRequest c;
  c.dps = std::move(fields->dps);
  c.cid = std::move(fields->cid);
  c.dev_id = std::move(fields->dev_id);
  return c;
}

PResult<std::vector<int>> parse_updatedps(std::string_view payload) {
  auto top = parse_object(payload);
  if (!top) return fail(top.error());
  auto it = top->find("dpId");
  if (it == top->end() || !it->is_array()) return proto_fail(ErrorCode::NOT_JSON, "no \"dpId\" array");
  std::vector<int> ids;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) return proto_fail(ErrorCode::NOT_JSON, "\"dpId\" holds a non-integer");
    const auto id = v.get<int64_t>();
    if (id < 0 || id > std::numeric_limits<int>::max()) {
      return proto_fail(ErrorCode::NOT_JSON, "\"dpId\" value out of range");
    }
    ids.push_back(static_cast<int>(id));
  }
  return ids;
}

std::string build_report(Version v, const Target& target, int64_t unix_s, const nlohmann::json& dps) {
  OJson j = OJson::object();
  if (needs_session_key(v)) {
    OJson data = OJson::object();
    if (target.cid) data["cid"] = *target.cid;
    data["dps"] = ordered(dps);
    j["protocol"] = REPORT_PROTOCOL;
    j["t"] = unix_s;
    j["data"] = std::move(data);
    return dump(j);
  }
  j["devId"] = target.dev_id;
  j["dps"] = ordered(dps);
  if (target.cid) j["cid"] = *target.cid;
  j["t"] = unix_s;
  return dump(j);
}

}  // namespace t2m::proto
