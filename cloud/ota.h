// Cloud firmware upgrades (docs/cloud.md §5): query per device and channel, start, follow progress until
// done, failed or timed out. One upgrade in flight per device. Callbacks run on the loop thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cloud/models.h"
#include "cloud/openapi.h"
#include "common/timers.h"

namespace t2m::cloud {

inline constexpr const char* ERR_OTA_BUSY = "cloud_ota_busy";              // one already in flight
inline constexpr const char* ERR_OTA_NO_UPDATE = "cloud_ota_no_update";    // nothing newer
inline constexpr const char* ERR_OTA_CANNOT = "cloud_ota_cannot_upgrade";  // preconditions not met
inline constexpr const char* ERR_OTA_NO_CHANNEL = "cloud_ota_no_channel";
inline constexpr const char* ERR_OTA_FAILED = "cloud_ota_failed";    // status 4
inline constexpr const char* ERR_OTA_TIMEOUT = "cloud_ota_timeout";  // status 7 or our own deadline

// `upgrade_status` numbers of the query and progress APIs (docs/cloud.md §5.1, §5.4).
enum class UpgradeStatus : int {
  IDLE = 0,
  AVAILABLE = 1,
  UPGRADING = 2,
  DONE = 3,
  FAILED = 4,
  TIMEOUT = 7,
  QUEUED = 13,
  PREPARING = 14,
};
// "idle", "available", "installing", "done", "failed", "timeout", "queued", "preparing", else "status_<n>".
std::string upgrade_status_name(int status);
bool upgrade_status_final(int status);

struct OtaProgress {
  std::string device_id;
  int channel = 0;
  int status = 0;
  int progress = 0;  // percent
  std::string from_version, to_version;
};

struct OtaOptions {
  uint64_t poll_interval_ms = 5000;
  uint64_t default_timeout_ms = 30 * 60 * 1000;  // when the firmware entry has no `timeout`
  uint64_t timeout_grace_ms = 5 * 60 * 1000;     // added to the cloud's own timeout
  int max_poll_errors = 5;                       // consecutive failed progress queries
};

class OtaManager {
 public:
  using ProgressFn = std::function<void(const OtaProgress&)>;

  OtaManager(OpenApi& api, Timers& timers, OtaOptions options = {});
  ~OtaManager();
  OtaManager(const OtaManager&) = delete;
  OtaManager& operator=(const OtaManager&) = delete;

  // Firmware per channel: current and latest version, status, whether it can upgrade and why not.
  void check(const std::string& device_id, Callback<std::vector<FirmwareInfo>> cb);
  // Starts an upgrade of `channel` (< 0: the first channel with an update) and follows it.
  // Refuses at once with ERR_OTA_BUSY if this device already has one in flight. `on_progress` is
  // called on every change; `on_done` exactly once with the final progress or an error.
  Status start(const std::string& device_id, int channel, ProgressFn on_progress,
               Callback<OtaProgress> on_done);
  bool busy(const std::string& device_id) const { return jobs_.count(device_id) != 0; }
  // Stops following (the device may keep upgrading); on_done gets ERR_CANCELLED.
  void cancel(const std::string& device_id);

 private:
  struct Job {
    std::string device_id;
    int channel = -1;
    OtaProgress last;
    ProgressFn on_progress;
    Callback<OtaProgress> on_done;
    uint64_t deadline_ms = 0;
    int poll_errors = 0;
    TimerId timer = NO_TIMER;
    uint64_t generation = 0;
  };
  void begin(const std::shared_ptr<Job>& job, const std::vector<FirmwareInfo>& fw);
  void poll(const std::shared_ptr<Job>& job);
  void schedule_poll(const std::shared_ptr<Job>& job);
  void report(Job& job, int status, int progress);
  void finish(const std::shared_ptr<Job>& job, Result<OtaProgress> r);
  bool current(const std::shared_ptr<Job>& job) const;

  OpenApi& api_;
  Timers& timers_;
  OtaOptions options_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  uint64_t generation_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace t2m::cloud
