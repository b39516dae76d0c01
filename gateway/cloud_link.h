// The gateway's cloud side: the OpenAPI client (firmware upgrades, fresh local keys, details of newly
// bound devices, commands when the LAN is down and the user allows it) and the push consumer, whose
// events become device state, availability, names, removals, firmware state and scene events through
// the state publisher; devices bound or deleted in the app are added to or removed from the registry.
// The push consumer is the one `cloud.push` names: Pulsar (§6.a) or the MQTT open-hub (§6.b,
// its broker config fetched through the OpenAPI, its client a PahoClient on the loop's executor); both
// feed this link as their PushSink and announce their channel on bridge/event ("cloud_push"). Loop
// thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cloud/http_client.h"
#include "cloud/openapi.h"
#include "cloud/openhub_client.h"
#include "cloud/ota.h"
#include "cloud/pulsar_client.h"
#include "cloud/push_processor.h"
#include "common/loop_executor.h"
#include "common/timers.h"
#include "config/config.h"
#include "gateway/cloud_port.h"
#include "gateway/device_registry.h"
#include "gateway/state_publisher.h"

namespace t2m::gw {

struct CloudLinkStats {
  uint64_t push_events = 0;
  uint64_t push_unknown = 0;
  uint64_t key_refreshes = 0;
  uint64_t cloud_commands = 0;
  uint64_t ota_started = 0;
};

class CloudLink final : public cloud::push::PushSink, public CloudPort, public KeySource {
 public:
  // `push_url` overrides the region's Pulsar URL (tests: ws://127.0.0.1:port/). `executor` carries the
  // open-hub MQTT client's callbacks to the loop; it must outlive this link.
  CloudLink(uv_loop_t* loop, Timers& timers, LoopExecutor& executor, config::CloudConfig config,
            std::string push_url = {});
  ~CloudLink() override;
  CloudLink(const CloudLink&) = delete;
  CloudLink& operator=(const CloudLink&) = delete;

  // Starts the push consumer if enabled; push messages go to `registry` and `state` from now on, and
  // both must outlive this link's start..stop.
  Status start(DeviceRegistry& registry, StatePublisher& state);
  // Stops the push consumer and pending work; `done` (optional) runs once the open-hub client has
  // disconnected (at once otherwise).
  void stop(std::function<void()> done = {});

  cloud::OpenApi& api() { return *api_; }
  const CloudLinkStats& stats() const { return stats_; }
  // {"transport": "off|pulsar|openhub", "state": "<consumer state>", "received", "delivered", "errors",
  //  "duplicates", "by_reason": {...}} of the push consumer (state "off" when none runs).
  nlohmann::json push_status() const;

  // CloudPort
  bool send_command(const std::string& id, const nlohmann::json& wire_dps, Done done) override;
  void firmware_request(const std::string& path, const nlohmann::json& data, Respond respond) override;
  nlohmann::json health() const override;
  // KeySource: fetches a fresh local key (a device re-paired in the app), at most every 10 minutes.
  void request_key(const std::string& id) override;

  // PushSink
  void on_push(const cloud::push::PushMessage& message) override;
  void on_push_channel(std::string_view channel, bool connected) override;
  void on_push_error(std::string_view channel, const Error& error) override;

 private:
  void bind_device_(const std::string& id);
  static nlohmann::json update_object_(const cloud::FirmwareInfo& fw);
  void start_openhub_();
  void fetch_openhub_config_(cloud::OpenhubConfigDone done);
  void request_openhub_config_(const std::string& uid, size_t attempt, cloud::OpenhubConfigDone done);

  uv_loop_t* loop_;
  Timers& timers_;
  LoopExecutor& executor_;
  Scheduler sched_;
  config::CloudConfig config_;
  std::string push_url_;
  std::unique_ptr<cloud::CurlHttpClient> http_;
  std::unique_ptr<cloud::OpenApi> api_;
  std::unique_ptr<cloud::OtaManager> ota_;
  std::unique_ptr<cloud::PulsarClient> pulsar_;
  std::unique_ptr<cloud::OpenhubClient> openhub_;
  std::string openhub_link_id_;  // unique per gateway instance (§6.b link_id)
  size_t openhub_path_ = 0;      // index into the config paths of the one that answered last
  DeviceRegistry* registry_ = nullptr;
  StatePublisher* state_ = nullptr;
  std::map<std::string, uint64_t> last_key_refresh_ms_;
  CloudLinkStats stats_;
  std::shared_ptr<bool> alive_;
};

}  // namespace t2m::gw
