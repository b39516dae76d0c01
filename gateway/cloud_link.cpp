#include "gateway/cloud_link.h"

#include <array>
#include <cstdio>
#include <random>

#include "cloud/device_list.h"
#include "common/log.h"
#include "gateway/error_code.h"
#include "model/derived_model.h"
#include "mqtt/paho_client.h"
#include "mqtt/topics.h"

namespace t2m::gw {
namespace {

constexpr std::string_view CLOUD_LINK_TAG = "gateway.cloud";
// A wrong key is refreshed at most this often per device: the cloud has a quota, and a device that is
// simply another device at that address would otherwise cost a call every reconnect.
constexpr uint64_t KEY_REFRESH_MIN_INTERVAL_MS = 10 * 60 * 1000;
// Tuya's own SDK waits a moment after bindUser before the new device's details are complete.
constexpr uint64_t BIND_FETCH_DELAY_MS = 1000;
// Projects authorised with client credentials (grant_type=1, what this gateway uses) are "custom"
// projects: the industry path first; smart-home projects answer on the other one (§6.b).
constexpr std::array<std::string_view, 2> OPENHUB_CONFIG_PATHS = {cloud::OPENHUB_CONFIG_PATH_INDUSTRY,
                                                                  cloud::OPENHUB_CONFIG_PATH_SMART_HOME};
constexpr std::string_view OPENHUB_LINK_PREFIX = "tuya2mqtt.";
constexpr int OPENHUB_LINK_RANDOM_WORDS = 4;
// The bridge requests (bridge/request/<path>) this link answers.
constexpr std::string_view OTA_CHECK_PATH = "device/ota_update/check";
constexpr std::string_view OTA_UPDATE_PATH = "device/ota_update/update";

// The "state" of a device's firmware as published (Home Assistant's update entity reads it).
enum class FirmwareState { IDLE, AVAILABLE, UPDATING };

std::string firmware_state_name(FirmwareState s) {
  switch (s) {
    case FirmwareState::AVAILABLE:
      return "available";
    case FirmwareState::UPDATING:
      return "updating";
    case FirmwareState::IDLE:
      break;
  }
  return "idle";
}

// An upgrade-status push: queued and preparing already count as updating for the user.
FirmwareState firmware_state_of(int upgrade_status) {
  using S = cloud::UpgradeStatus;
  if (upgrade_status == static_cast<int>(S::UPGRADING) || upgrade_status == static_cast<int>(S::QUEUED) ||
      upgrade_status == static_cast<int>(S::PREPARING))
    return FirmwareState::UPDATING;
  if (upgrade_status == static_cast<int>(S::AVAILABLE)) return FirmwareState::AVAILABLE;
  return FirmwareState::IDLE;
}

// A firmware listing entry: the cloud's status, or a newer version it says can be installed.
FirmwareState firmware_state_of(const cloud::FirmwareInfo& fw) {
  if (fw.upgrade_status == static_cast<int>(cloud::UpgradeStatus::UPGRADING)) return FirmwareState::UPDATING;
  const bool available =
      fw.upgrade_status == static_cast<int>(cloud::UpgradeStatus::AVAILABLE) ||
      (fw.can_upgrade && !fw.latest_version.empty() && fw.latest_version != fw.current_version);
  return available ? FirmwareState::AVAILABLE : FirmwareState::IDLE;
}

std::string random_link_id() {
  std::random_device rd;
  char buf[9];
  std::string id(OPENHUB_LINK_PREFIX);
  for (int i = 0; i < OPENHUB_LINK_RANDOM_WORDS; ++i) {
    std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
    id += buf;
  }
  return id;
}

nlohmann::json counters_json(const cloud::push::PushCounters& c) {
  nlohmann::json by_reason = nlohmann::json::object();
  for (const auto& [reason, n] : c.by_reason) by_reason[reason] = n;
  return {{"received", c.received}, {"delivered", c.delivered}, {"duplicates", c.duplicates},
          {"unknown", c.unknown},   {"errors", c.errors},       {"by_reason", by_reason}};
}

}  // namespace

CloudLink::CloudLink(uv_loop_t* loop, Timers& timers, LoopExecutor& executor, config::CloudConfig config,
                     std::string push_url)
    : loop_(loop),
      timers_(timers),
      executor_(executor),
      sched_(timers),
      config_(std::move(config)),
      push_url_(std::move(push_url)),
      alive_(std::make_shared<bool>(true)) {
  log_register_secret(config_.access_secret);
  http_ = std::make_unique<cloud::CurlHttpClient>(loop_);
  cloud::CloudConfig cc;
  cc.access_id = config_.access_id;
  cc.access_secret = config_.access_secret;
  cc.region = config_.region;
  cc.base_url = config_.base_url;
  api_ = std::make_unique<cloud::OpenApi>(*http_, timers_, cc);
  cloud::OtaOptions oo;
  oo.poll_interval_ms = static_cast<uint64_t>(config_.ota_poll_interval.count());
  ota_ = std::make_unique<cloud::OtaManager>(*api_, timers_, oo);
}

CloudLink::~CloudLink() {
  *alive_ = false;
  // The gateway may be gone already; a consumer's last "disconnected" goes nowhere.
  registry_ = nullptr;
  state_ = nullptr;
  stop();
}

nlohmann::json CloudLink::health() const {
  return nlohmann::json{{"push", push_status()},
                        {"push_events", stats_.push_events},
                        {"push_unknown", stats_.push_unknown},
                        {"key_refreshes", stats_.key_refreshes},
                        {"cloud_commands", stats_.cloud_commands},
                        {"ota_started", stats_.ota_started}};
}

Status CloudLink::start(DeviceRegistry& registry, StatePublisher& state) {
  registry_ = &registry;
  state_ = &state;
  if (auto v = api_->channel().validate(); !v.ok()) return v;
  if (!cloud::CurlHttpClient::async_dns_available())
    T2M_LOGW(CLOUD_LINK_TAG,
             "libcurl resolves names synchronously here: a slow DNS server would stall the loop");
  if (config_.push == config::PushTransport::PULSAR) {
    cloud::PulsarOptions o;
    if (!push_url_.empty()) {
      o.url = push_url_;
    } else if (auto url = cloud::pulsar_url_for_region(config_.region)) {
      o.url = *url;
    }
    o.access_id = config_.access_id;
    o.access_secret = config_.access_secret;
    pulsar_ = std::make_unique<cloud::PulsarClient>(loop_, timers_, *this, o);
    if (auto st = pulsar_->start(); !st.ok()) return st;
  } else if (config_.push == config::PushTransport::OPENHUB) {
    start_openhub_();
    if (auto st = openhub_->start(); !st.ok()) return st;
  }
  const std::string transport(config::to_string(config_.push));
  T2M_LOGI(CLOUD_LINK_TAG, "cloud link ready (region %s, push messages %s)", config_.region.c_str(),
           transport.c_str());
  return {};
}

void CloudLink::stop(std::function<void()> done) {
  sched_.cancel_all();
  if (pulsar_) pulsar_->stop();
  if (openhub_) {
    openhub_->stop(std::move(done));
    return;
  }
  if (done) done();
}

nlohmann::json CloudLink::push_status() const {
  nlohmann::json j{{"transport", std::string(config::to_string(config_.push))}, {"state", "off"}};
  if (pulsar_) {
    j["state"] = std::string(cloud::to_string(pulsar_->state()));
    j.update(counters_json(pulsar_->counters()));
  } else if (openhub_) {
    j["state"] = std::string(cloud::to_string(openhub_->state()));
    j.update(counters_json(openhub_->counters()));
  }
  return j;
}

// ---- open-hub (§6.b) -------------------------------------------------------------------------

void CloudLink::start_openhub_() {
  openhub_link_id_ = random_link_id();
  cloud::OpenhubOptions o;
  o.ca_file = config_.openhub_ca;
  auto fetcher = [this](cloud::OpenhubConfigDone done) { fetch_openhub_config_(std::move(done)); };
  // One PahoClient per config generation (a Paho client connects once); callbacks come back through
  // the loop's executor like the main MQTT client's.
  auto factory = [this]() -> mqtt::ClientPtr { return std::make_unique<mqtt::PahoClient>(executor_); };
  openhub_ =
      std::make_unique<cloud::OpenhubClient>(timers_, *this, std::move(fetcher), std::move(factory), o);
}

void CloudLink::fetch_openhub_config_(cloud::OpenhubConfigDone done) {
  auto alive = alive_;
  // The config call needs the project uid, which comes with the token.
  api_->channel().connect([this, alive, done = std::move(done)](Result<std::string> uid) mutable {
    if (!*alive) return;
    if (!uid.ok()) {
      done(Unexpected<Error>{uid.error()});
      return;
    }
    request_openhub_config_(uid.value(), 0, std::move(done));
  });
}

void CloudLink::request_openhub_config_(const std::string& uid, size_t attempt,
                                        cloud::OpenhubConfigDone done) {
  const size_t index = (openhub_path_ + attempt) % OPENHUB_CONFIG_PATHS.size();
  const std::string path(OPENHUB_CONFIG_PATHS[index]);
  auto alive = alive_;
  api_->channel().post(
      path, cloud::openhub_config_request(uid, openhub_link_id_),
      [this, alive, uid, attempt, index, path, done = std::move(done)](Result<nlohmann::json> r) mutable {
        if (!*alive) return;
        if (!r.ok()) {
          if (attempt + 1 < OPENHUB_CONFIG_PATHS.size()) {
            T2M_LOGD(CLOUD_LINK_TAG, "open-hub config from %s failed (%s); trying the other project type",
                     path.c_str(), r.error().message.c_str());
            request_openhub_config_(uid, attempt + 1, std::move(done));
            return;
          }
          done(Unexpected<Error>{r.error()});
          return;
        }
        auto config = cloud::parse_openhub_config(r.value(), cloud::push::OPENHUB_V1);
        if (config.ok()) openhub_path_ = index;
        done(std::move(config));
      });
}

// ---- push messages ----------------------------------------------------------------------------

void CloudLink::on_push(const cloud::push::PushMessage& message) {
  if (!state_) return;
  ++stats_.push_events;
  StatePublisher& st = *state_;
  namespace p = cloud::push;
  std::visit(
      [&](const auto& ev) {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, p::StatusReport>) {
          std::vector<CloudItem> items;
          for (const auto& i : ev.items) items.push_back(CloudItem{i.dp_id, i.code, i.value});
          st.cloud_report(ev.dev_id, items);
        } else if constexpr (std::is_same_v<T, p::Online>) {
          st.cloud_online(ev.dev_id, true);
        } else if constexpr (std::is_same_v<T, p::Offline>) {
          st.cloud_online(ev.dev_id, false);
        } else if constexpr (std::is_same_v<T, p::NameUpdate>) {
          st.cloud_name(ev.dev_id, ev.name);
        } else if constexpr (std::is_same_v<T, p::DpNameUpdate>) {
          st.cloud_dp_name(ev.dev_id, ev.dp_id, ev.name);
        } else if constexpr (std::is_same_v<T, p::BindUser>) {
          bind_device_(ev.dev_id);
        } else if constexpr (std::is_same_v<T, p::Delete>) {
          if (auto r = registry_->remove(ev.dev_id); r.ok())
            st.device_removed(r.value(), "deleted from the Tuya account");
        } else if constexpr (std::is_same_v<T, p::UpgradeStatus>) {
          nlohmann::json u{{"state", firmware_state_name(firmware_state_of(ev.status))},
                           {"status", cloud::upgrade_status_name(ev.status)}};
          if (ev.progress) u["progress"] = *ev.progress;
          if (!ev.version.empty()) {
            if (ev.status == static_cast<int>(cloud::UpgradeStatus::DONE))
              u["installed_version"] = ev.version;
            else
              u["latest_version"] = ev.version;
          }
          st.firmware(ev.dev_id, u);
        } else if constexpr (std::is_same_v<T, p::SceneRun>) {
          nlohmann::json actions = nlohmann::json::array();
          for (const auto& a : ev.actions) {
            actions.push_back({{"entity_id", a.entity_id}, {"action", a.id}});
            st.device_event(a.entity_id, "scene", {{"scene_id", ev.scene_id}, {"scene", ev.name}});
          }
          st.event("scene_run", {{"scene_id", ev.scene_id}, {"name", ev.name}, {"actions", actions}});
        } else {
          ++stats_.push_unknown;
          T2M_LOGD(CLOUD_LINK_TAG, "push message of protocol %d (%s) ignored", ev.protocol,
                   ev.biz_code.c_str());
        }
      },
      message.event);
}

void CloudLink::on_push_channel(std::string_view channel, bool connected) {
  T2M_LOGI(CLOUD_LINK_TAG, "push channel %.*s %s", static_cast<int>(channel.size()), channel.data(),
           connected ? "connected" : "disconnected");
  if (state_) state_->event("cloud_push", {{"channel", std::string(channel)}, {"connected", connected}});
}

void CloudLink::on_push_error(std::string_view channel, const Error& error) {
  T2M_LOGE(CLOUD_LINK_TAG, "push channel %.*s: %s", static_cast<int>(channel.size()), channel.data(),
           error.message.c_str());
}

void CloudLink::bind_device_(const std::string& id) {
  auto alive = alive_;
  sched_.set_timeout("bind:" + id, BIND_FETCH_DELAY_MS, [this, alive, id] {
    api_->get_device(id, [this, alive, id](Result<cloud::DeviceInfo> info) {
      if (!*alive || !registry_) return;
      if (!info.ok()) {
        T2M_LOGW(CLOUD_LINK_TAG, "new device %s: cannot fetch its details: %s", id.c_str(),
                 info.error().message.c_str());
        return;
      }
      config::DeviceConfig cfg;
      cfg.id = info->id.empty() ? id : info->id;
      cfg.local_key = info->local_key;
      cfg.category = info->category;
      cfg.product_id = info->product_id;
      cfg.product_name = info->product_name;
      if (info->sub) {
        cfg.cid = info->node_id;
        cfg.parent = info->gateway_id;
        cfg.local_key.clear();  // sub-devices use their gateway's session and key
      }
      // The app's name becomes the MQTT name when it is a valid one; otherwise the id is used.
      if (mqtt::validate_friendly_name(info->name).ok() && !registry_->find(info->name))
        cfg.name = info->name;
      api_->get_specification(cfg.id, [this, alive, cfg](Result<cloud::Specification> spec) mutable {
        if (!*alive || !registry_) return;
        if (spec.ok()) cfg.mapping = cloud::mapping_from_spec(spec.value());
        auto d = registry_->add(config::device_to_json(cfg));
        if (!d) {
          T2M_LOGW(CLOUD_LINK_TAG, "new device %s not added: %s", cfg.id.c_str(), d.error().message.c_str());
          return;
        }
        T2M_LOGI(CLOUD_LINK_TAG, "added newly bound device %s as '%s'", cfg.id.c_str(),
                 d.value()->name().c_str());
        state_->device_added(*d.value());
        state_->event("device_joined", {{"id", cfg.id}, {"friendly_name", d.value()->name()}});
      });
    });
  });
}

// ---- keys and commands -------------------------------------------------------------------------

void CloudLink::request_key(const std::string& id) {
  const uint64_t now = timers_.now_ms();
  auto it = last_key_refresh_ms_.find(id);
  if (it != last_key_refresh_ms_.end() && now - it->second < KEY_REFRESH_MIN_INTERVAL_MS) return;
  last_key_refresh_ms_[id] = now;
  ++stats_.key_refreshes;
  auto alive = alive_;
  api_->get_device(id, [this, alive, id](Result<cloud::DeviceInfo> info) {
    if (!*alive || !registry_) return;
    if (!info.ok()) {
      T2M_LOGW(CLOUD_LINK_TAG, "%s: cannot fetch a fresh local key: %s", id.c_str(),
               info.error().message.c_str());
      return;
    }
    if (info->local_key.empty()) return;
    log_register_secret(info->local_key);
    if (registry_->update_local_key(id, info->local_key)) {
      if (const Device* d = registry_->find(id)) state_->device_key_updated(*d);
      T2M_LOGI(CLOUD_LINK_TAG, "%s: the device was re-paired; its new local key came from the cloud",
               id.c_str());
    } else {
      T2M_LOGW(CLOUD_LINK_TAG,
               "%s: the cloud has the same key: check the device's address and protocol version", id.c_str());
    }
  });
}

bool CloudLink::send_command(const std::string& id, const nlohmann::json& wire_dps, Done done) {
  if (!config_.allow_cloud_commands || !registry_) return false;
  const Device* dev = registry_->find(id);
  if (!dev) return false;
  const model::DeviceModel* model = &dev->model;
  // The cloud speaks DP codes; values stay in their wire form (the standard instruction set uses the
  // same raw integers as the LAN).
  nlohmann::json code_values = nlohmann::json::object();
  for (auto it = wire_dps.begin(); it != wire_dps.end(); ++it) {
    const auto* d = model->model().find_dp(std::atoi(it.key().c_str()));
    if (!d || d->code.empty()) return false;  // no code known: the cloud cannot be asked
    code_values[d->code] = it.value();
  }
  ++stats_.cloud_commands;
  T2M_LOGI(CLOUD_LINK_TAG, "%s: LAN is down, sending the command through the cloud", id.c_str());
  api_->send_commands(id, code_values, [done = std::move(done)](Result<bool> r) {
    if (!r.ok())
      done(Unexpected<Error>{r.error()});
    else if (!r.value())
      done(fail(ErrorCode::CLOUD_COMMAND_FAILED, "the cloud refused the command"));
    else
      done(Status{});
  });
  return true;
}

// ---- firmware ---------------------------------------------------------------------------------

nlohmann::json CloudLink::update_object_(const cloud::FirmwareInfo& fw) {
  nlohmann::json u{{"state", firmware_state_name(firmware_state_of(fw))},
                   {"installed_version", fw.current_version},
                   {"latest_version", fw.latest_version.empty() ? fw.current_version : fw.latest_version}};
  return u;
}

void CloudLink::firmware_request(const std::string& path, const nlohmann::json& data, Respond respond) {
  std::string ref;
  if (data.is_string())
    ref = data.get<std::string>();
  else if (data.is_object() && data.contains("id") && data["id"].is_string())
    ref = data["id"].get<std::string>();
  if (ref.empty() || !registry_) {
    respond(fail(ErrorCode::BAD_REQUEST, R"(firmware requests need {"id": "<device name or id>"})"));
    return;
  }
  const Device* target = registry_->find(ref);
  const std::string id = target ? target->cfg.id : std::string();
  if (id.empty()) {
    respond(fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + ref + "'"));
    return;
  }
  const bool start = path == OTA_UPDATE_PATH;
  if (!start && path != OTA_CHECK_PATH) {
    respond(fail(ErrorCode::UNKNOWN_REQUEST,
                 "unknown request '" + path + "': use " + std::string(OTA_CHECK_PATH) + " or /update"));
    return;
  }
  if (start && ota_->busy(id)) {
    respond(fail(cloud::ERR_OTA_BUSY, "an update of '" + ref + "' is already running"));
    return;
  }
  auto alive = alive_;
  ota_->check(id, [this, alive, id, ref, start, respond](Result<std::vector<cloud::FirmwareInfo>> r) {
    if (!*alive || !state_) return;
    if (!r.ok()) {
      respond(Unexpected<Error>{r.error()});
      return;
    }
    if (r->empty()) {
      respond(fail(cloud::ERR_OTA_NO_CHANNEL, "the cloud knows no firmware for '" + ref + "'"));
      return;
    }
    // The channel that can be upgraded, else the main module (channel 0 is Wi-Fi/main on most devices).
    const cloud::FirmwareInfo* pick = &r->front();
    for (const auto& fw : *r)
      if (fw.can_upgrade && fw.upgrade_status == static_cast<int>(cloud::UpgradeStatus::AVAILABLE))
        pick = &fw;
    nlohmann::json update = update_object_(*pick);
    const bool available = firmware_state_of(*pick) == FirmwareState::AVAILABLE;
    state_->firmware(id, update);
    nlohmann::json answer{{"id", ref},
                          {"update_available", available},
                          {"installed_version", pick->current_version},
                          {"latest_version", update["latest_version"]},
                          {"channel", pick->channel}};
    if (!start) {
      respond(answer);
      return;
    }
    if (!available) {
      respond(fail(cloud::ERR_OTA_NO_UPDATE,
                   "'" + ref + "' runs " + pick->current_version + ", the latest firmware"));
      return;
    }
    const std::string from = pick->current_version;
    const std::string to = pick->latest_version;
    ++stats_.ota_started;
    auto st = ota_->start(
        id, pick->channel,
        [this, alive, id, from, to](const cloud::OtaProgress& p) {
          if (!*alive || !state_) return;
          state_->firmware(id, {{"state", firmware_state_name(FirmwareState::UPDATING)},
                                {"installed_version", from},
                                {"latest_version", to},
                                {"progress", p.progress},
                                {"status", cloud::upgrade_status_name(p.status)}});
        },
        [this, alive, id, ref, from, to, respond](Result<cloud::OtaProgress> done) {
          if (!*alive || !state_) return;
          if (!done.ok()) {
            state_->firmware(id, {{"state", firmware_state_name(FirmwareState::AVAILABLE)},
                                  {"installed_version", from},
                                  {"latest_version", to}});
            respond(Unexpected<Error>{done.error()});
            return;
          }
          state_->firmware(id, {{"state", firmware_state_name(FirmwareState::IDLE)},
                                {"installed_version", to},
                                {"latest_version", to}});
          respond(nlohmann::json{{"id", ref}, {"from", from}, {"to", to}});
        });
    if (!st.ok()) respond(Unexpected<Error>{st.error()});
  });
}

}  // namespace t2m::gw
