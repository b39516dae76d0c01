#include "gateway/command_router.h"

#include "gateway/error_code.h"
#include "model/convert.h"
#include "mqtt/payload.h"

namespace t2m::gw {

CommandRouter::CommandRouter(Deps deps) : deps_(deps), alive_(std::make_shared<bool>(true)) {}

CommandRouter::~CommandRouter() {
  *alive_ = false;
}

void CommandRouter::on_set(const std::string& name, const std::string& payload) {
  auto cmd = mqtt::parse_set_payload(payload);
  if (!cmd) {
    ++deps_.registry.stats().bad_mqtt_messages;
    deps_.registry.count_error(cmd.error().code);
    answer_(name, Unexpected<Error>{cmd.error()}, std::nullopt, nullptr);
    return;
  }
  set_(name, std::move(cmd.value()));
}

void CommandRouter::on_set_attribute(const std::string& name, const std::string& attribute,
                                     const std::string& payload) {
  auto v = mqtt::parse_bare_value(payload);
  if (!v) {
    ++deps_.registry.stats().bad_mqtt_messages;
    deps_.registry.count_error(v.error().code);
    answer_(name, Unexpected<Error>{v.error()}, std::nullopt, nullptr);
    return;
  }
  set_(name, nlohmann::json{{attribute, v.value()}});
}

void CommandRouter::answer_unreadable(const std::string& name) {
  answer_(name, fail(ErrorCode::BAD_PAYLOAD, "the command could not be read"), std::nullopt, nullptr);
}

void CommandRouter::answer_(const std::string& name, const Status& st,
                            const std::optional<nlohmann::json>& transaction, const nlohmann::json& written) {
  nlohmann::json r{{"status", st.ok() ? "ok" : "error"}};
  if (!st.ok()) {
    r["error"] = st.error().message;
    r["code"] = st.error().code;
    ++deps_.registry.stats().command_errors;
  }
  if (!written.is_null()) r["dps"] = written;
  if (transaction) r["transaction"] = *transaction;
  (void)deps_.publisher.publish(
      mqtt::Message{deps_.topics.set_result(name), mqtt::dump_json(r), mqtt::Qos::AT_LEAST_ONCE, false});
}

CloudPort::Done CommandRouter::answer_later_(const std::string& id, std::optional<nlohmann::json> transaction,
                                             nlohmann::json written) {
  return [this, alive = alive_, id, transaction = std::move(transaction),
          written = std::move(written)](const Status& st) {
    if (!*alive) return;
    Device* dev = deps_.registry.find(id);
    if (!st.ok()) deps_.registry.count_error(st.error().code);
    answer_(dev ? dev->name() : id, st, transaction, written);
  };
}

void CommandRouter::set_(const std::string& name, nlohmann::json command) {
  ++deps_.registry.stats().commands;
  std::optional<nlohmann::json> transaction;
  if (command.is_object() && command.contains("transaction")) {
    transaction = command["transaction"];
    command.erase("transaction");
  }
  Device* d = deps_.registry.find(name);
  if (!d) {
    deps_.registry.count_error(ErrorCode::UNKNOWN_DEVICE);
    answer_(name, fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + name + "'"), transaction,
            nullptr);
    return;
  }
  auto dps = d->model.to_dps(command, d->dps);
  if (!dps && dps.error().code == model::CMD_ERR_UNKNOWN && d->dps.empty() && !d->effective_online()) {
    // A device that has never reported may have properties its model learns only from its first report:
    // the problem to report is that it is not there, not that the property is unknown.
    deps_.registry.count_error(ErrorCode::OFFLINE);
    answer_(name,
            fail(ErrorCode::OFFLINE, d->name() + " has not been online yet (" + d->reason +
                                         "), so its properties are not known: " + dps.error().message),
            transaction, nullptr);
    return;
  }
  if (!dps) {
    deps_.registry.count_error(dps.error().code);
    answer_(name, Unexpected<Error>{dps.error()}, transaction, nullptr);
    return;
  }
  DeviceSession* s = deps_.registry.session_for(*d);
  const std::string id = d->cfg.id;
  if ((!s || !d->lan_up()) && deps_.cloud &&
      deps_.cloud->send_command(id, dps.value(), answer_later_(id, transaction, dps.value()))) {
    return;
  }
  if (!s) {
    deps_.registry.count_error(ErrorCode::OFFLINE);
    answer_(name, fail(ErrorCode::OFFLINE, d->name() + " is offline: " + d->reason), transaction, nullptr);
    return;
  }
  std::optional<std::string> cid;
  if (d->cfg.is_sub_device()) cid = d->cfg.cid;
  nlohmann::json written = dps.value();
  s->set_dps(std::move(dps.value()), cid, answer_later_(id, transaction, std::move(written)));
}

void CommandRouter::on_get(const std::string& name) {
  Device* d = deps_.registry.find(name);
  if (!d) {
    deps_.registry.count_error(ErrorCode::UNKNOWN_DEVICE);
    answer_(name, fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + name + "'"), std::nullopt,
            nullptr);
    return;
  }
  DeviceSession* s = deps_.registry.session_for(*d);
  if (!s) {
    answer_(name, fail(ErrorCode::OFFLINE, d->name() + " is offline: " + d->reason), std::nullopt, nullptr);
    return;
  }
  std::optional<std::string> cid;
  if (d->cfg.is_sub_device()) cid = d->cfg.cid;
  s->refresh(cid, [this, alive = alive_, id = d->cfg.id](const Status& st) {
    if (!*alive || st.ok()) return;  // success shows as fresh state
    Device* dev = deps_.registry.find(id);
    answer_(dev ? dev->name() : id, st, std::nullopt, nullptr);
  });
}

}  // namespace t2m::gw
