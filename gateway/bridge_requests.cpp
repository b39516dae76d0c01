#include "gateway/bridge_requests.h"

#include "gateway/error_code.h"
#include "mqtt/payload.h"

namespace t2m::gw {
namespace {

constexpr std::string_view OTA_PREFIX = "device/ota_update/";

// Requests name a device with "id" (device id or friendly name) or, zigbee2mqtt-style, "from".
std::optional<std::string> device_ref(const nlohmann::json& data, const char* key = "id") {
  if (data.is_string()) return data.get<std::string>();
  if (!data.is_object()) return std::nullopt;
  for (const char* k : {key, "id", "from", "friendly_name"}) {
    auto it = data.find(k);
    if (it != data.end() && it->is_string()) return it->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

BridgeRequests::BridgeRequests(Deps deps) : deps_(deps), alive_(std::make_shared<bool>(true)) {}

BridgeRequests::~BridgeRequests() {
  *alive_ = false;
}

void BridgeRequests::respond_(const std::string& path, const Result<nlohmann::json>& r,
                              const nlohmann::json& transaction) {
  if (!r.ok()) deps_.registry.count_error(r.error().code);
  std::string body = r.ok() ? mqtt::make_response(r.value(), transaction)
                            : mqtt::make_error_response(r.error().message, transaction);
  (void)deps_.publisher.publish(
      mqtt::Message{deps_.topics.bridge_response(path), std::move(body), mqtt::Qos::AT_LEAST_ONCE, false});
}

void BridgeRequests::on_request(const std::string& path, const std::string& payload) {
  ++deps_.registry.stats().bridge_requests;
  auto req = mqtt::parse_bridge_request(payload);
  if (!req) {
    respond_(path, Unexpected<Error>{req.error()}, nullptr);
    return;
  }
  const nlohmann::json transaction = req->transaction;
  if (path.rfind(OTA_PREFIX, 0) == 0) {
    if (!deps_.cloud) {
      respond_(path,
               fail(ErrorCode::CLOUD_OFF, "firmware updates need the cloud: configure the \"cloud\" section"),
               transaction);
      return;
    }
    deps_.cloud->firmware_request(path, req->data,
                                  [this, alive = alive_, path, transaction](Result<nlohmann::json> r) {
                                    if (*alive) respond_(path, r, transaction);
                                  });
    return;
  }
  respond_(path, handle_(path, req->data), transaction);
}

Result<nlohmann::json> BridgeRequests::handle_(const std::string& path, const nlohmann::json& data) {
  if (path == "device/rename") return rename_(data);
  if (path == "device/add") return add_(data);
  if (path == "device/remove") return remove_(data);
  if (path == "device/options") return options_(data);
  if (path == "scan") return scan_(data);
  if (path == "health_check") return health();
  if (path == "info") {
    deps_.state.publish_bridge_info();
    return nlohmann::json{{"version", std::string(GATEWAY_VERSION)}};
  }
  if (path == "devices") return deps_.state.devices_json();
  return fail(ErrorCode::UNKNOWN_REQUEST, "unknown request '" + path +
                                              "'; supported: device/rename, device/add, device/remove, "
                                              "device/options, scan, health_check, info");
}

Result<nlohmann::json> BridgeRequests::rename_(const nlohmann::json& data) {
  auto ref = device_ref(data, "from");
  if (!ref || !data.is_object() || !data.contains("to") || !data["to"].is_string())
    return fail(ErrorCode::BAD_REQUEST, R"(rename needs {"from": "<name or id>", "to": "<new name>"})");
  const std::string to = data["to"].get<std::string>();
  if (!deps_.registry.find(*ref))
    return fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + *ref + "'");
  if (auto v = mqtt::validate_friendly_name(to); !v.ok()) return Unexpected<Error>{v.error()};
  auto r = deps_.registry.rename(*ref, to);
  if (!r) return Unexpected<Error>{r.error()};
  deps_.state.device_renamed(r.value());
  return nlohmann::json{{"from", r->from}, {"to", to}};
}

Result<nlohmann::json> BridgeRequests::add_(const nlohmann::json& data) {
  auto d = deps_.registry.add(data);
  if (!d) return Unexpected<Error>{d.error()};
  deps_.state.device_added(*d.value());
  return nlohmann::json{{"id", d.value()->cfg.id}, {"friendly_name", d.value()->name()}};
}

Result<nlohmann::json> BridgeRequests::remove_(const nlohmann::json& data) {
  auto ref = device_ref(data);
  if (!ref) return fail(ErrorCode::BAD_REQUEST, R"(remove needs {"id": "<name or id>"})");
  auto r = deps_.registry.remove(*ref);
  if (!r) return Unexpected<Error>{r.error()};
  deps_.state.device_removed(r.value());
  return nlohmann::json{{"id", r->id}, {"friendly_name", r->name}};
}

Result<nlohmann::json> BridgeRequests::options_(const nlohmann::json& data) {
  auto ref = device_ref(data);
  if (!ref || !data.contains("options") || !data["options"].is_object())
    return fail(ErrorCode::BAD_REQUEST, R"(options needs {"id": "<name or id>", "options": {...}})");
  auto r = deps_.registry.reconfigure(*ref, data["options"]);
  if (!r) return Unexpected<Error>{r.error()};
  deps_.state.device_reconfigured(r.value());
  const Device& d = *r->device;
  nlohmann::json safe = config::device_to_json(d.cfg);
  safe.erase("local_key");
  safe.erase("key");
  return nlohmann::json{{"id", d.cfg.id}, {"options", safe}};
}

Result<nlohmann::json> BridgeRequests::scan_(const nlohmann::json&) {
  nlohmann::json out{{"heard", nlohmann::json::array()}};
  if (deps_.scanner) {
    auto st = deps_.scanner->request_announcements();
    out["request_sent"] = st.ok();
    if (!st.ok()) out["request_error"] = st.error().message;
  } else if (!deps_.registry.config().discovery.broadcast_target.empty()) {
    out["request_sent"] = false;
    out["request_error"] = "UDP discovery is disabled in the configuration";
  }
  for (const auto& [id, seen] : deps_.registry.heard()) {
    nlohmann::json e = seen;
    e["known"] = deps_.registry.find(id) != nullptr;
    out["heard"].push_back(std::move(e));
  }
  return out;
}

nlohmann::json BridgeRequests::health() const {
  const DeviceRegistry& reg = deps_.registry;
  size_t online = 0;
  nlohmann::json per_device = nlohmann::json::object();
  for (const auto& [id, d] : reg.devices()) {
    if (d->online) ++online;
    nlohmann::json j{{"online", d->online}, {"status", d->reason}, {"reports", d->reports}};
    if (d->session) {
      const auto& s = d->session->stats();
      j["session"] = {{"state", std::string(to_string(d->session->state()))},
                      {"connects", s.connects},
                      {"frames_in", s.frames_in},
                      {"frames_out", s.frames_out},
                      {"bad_frames", s.bad_frames},
                      {"garbage_bytes", d->session->garbage_bytes()},
                      {"timeouts", s.timeouts},
                      {"queued", d->session->queued()}};
    }
    if (!d->errors.empty()) j["errors"] = d->errors;
    per_device[d->name()] = std::move(j);
  }
  const auto& ps = deps_.publisher.stats();
  const GatewayStats& st = reg.stats();
  nlohmann::json out{{"healthy", true},
                     {"devices", {{"total", reg.devices().size()}, {"online", online}}},
                     {"mqtt",
                      {{"connected", deps_.client.connected()},
                       {"published", ps.published},
                       {"failed", ps.failed},
                       {"republished", ps.republished}}},
                     {"bridge",
                      {{"reports", st.reports},
                       {"commands", st.commands},
                       {"command_errors", st.command_errors},
                       {"bad_mqtt_messages", st.bad_mqtt_messages},
                       {"unknown_sub_device_reports", st.unknown_sub_device_reports},
                       {"errors", st.errors}}},
                     {"per_device", per_device}};
  if (deps_.cloud) out["cloud"] = deps_.cloud->health();
  return out;
}

}  // namespace t2m::gw
