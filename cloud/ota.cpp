#include "cloud/ota.h"

#include "common/log.h"

namespace t2m::cloud {

namespace {
const char* const OTA_TAG = "cloud.ota";
}

std::string upgrade_status_name(int status) {
  switch (static_cast<UpgradeStatus>(status)) {
    case UpgradeStatus::IDLE:
      return "idle";
    case UpgradeStatus::AVAILABLE:
      return "available";
    case UpgradeStatus::UPGRADING:
      return "installing";
    case UpgradeStatus::DONE:
      return "done";
    case UpgradeStatus::FAILED:
      return "failed";
    case UpgradeStatus::TIMEOUT:
      return "timeout";
    case UpgradeStatus::QUEUED:
      return "queued";
    case UpgradeStatus::PREPARING:
      return "preparing";
  }
  return "status_" + std::to_string(status);  // phone-side values (5, 6, 100) pass through raw
}

bool upgrade_status_final(int status) {
  return status == static_cast<int>(UpgradeStatus::DONE) ||
         status == static_cast<int>(UpgradeStatus::FAILED) ||
         status == static_cast<int>(UpgradeStatus::TIMEOUT);
}

OtaManager::OtaManager(OpenApi& api, Timers& timers, OtaOptions options)
    : api_(api), timers_(timers), options_(options) {}

OtaManager::~OtaManager() {
  *alive_ = false;
  for (auto& [id, job] : jobs_) {
    if (job->timer != NO_TIMER) timers_.cancel(job->timer);
  }
}

void OtaManager::check(const std::string& device_id, Callback<std::vector<FirmwareInfo>> cb) {
  api_.get_firmware(device_id, std::move(cb));
}

bool OtaManager::current(const std::shared_ptr<Job>& job) const {
  auto it = jobs_.find(job->device_id);
  return it != jobs_.end() && it->second == job;
}

Status OtaManager::start(const std::string& device_id, int channel, ProgressFn on_progress,
                         Callback<OtaProgress> on_done) {
  if (busy(device_id)) return fail(ERR_OTA_BUSY, "a firmware upgrade is already running for " + device_id);
  auto job = std::make_shared<Job>();
  job->device_id = device_id;
  job->channel = channel;
  job->on_progress = std::move(on_progress);
  job->on_done = std::move(on_done);
  job->generation = ++generation_;
  job->last.device_id = device_id;
  jobs_[device_id] = job;
  std::weak_ptr<bool> alive = alive_;
  api_.get_firmware(device_id, [this, alive, job](Result<std::vector<FirmwareInfo>> fw) {
    if (alive.expired() || !current(job)) return;
    if (!fw) {
      finish(job, fail(fw.error()));
      return;
    }
    begin(job, fw.value());
  });
  return {};
}

void OtaManager::begin(const std::shared_ptr<Job>& job, const std::vector<FirmwareInfo>& list) {
  const FirmwareInfo* fw = nullptr;
  for (const auto& f : list) {
    if (job->channel >= 0 ? f.channel == job->channel
                          : (f.upgrade_status == static_cast<int>(UpgradeStatus::AVAILABLE) &&
                             f.current_version != f.latest_version)) {
      fw = &f;
      break;
    }
  }
  if (!fw) {
    finish(job, job->channel >= 0 ? fail(ERR_OTA_NO_CHANNEL,
                                         "the device has no firmware channel " + std::to_string(job->channel))
                                  : fail(ERR_OTA_NO_UPDATE, "no firmware update is available"));
    return;
  }
  job->channel = fw->channel;
  job->last.channel = fw->channel;
  job->last.from_version = fw->current_version;
  job->last.to_version = fw->latest_version;
  const bool already_running = fw->upgrade_status == static_cast<int>(UpgradeStatus::UPGRADING);
  if (!already_running) {
    if (fw->upgrade_status == static_cast<int>(UpgradeStatus::IDLE) || fw->latest_version.empty() ||
        fw->current_version == fw->latest_version) {
      finish(job, fail(ERR_OTA_NO_UPDATE, "firmware " + fw->current_version + " is the latest"));
      return;
    }
    if (!fw->can_upgrade) {
      finish(job, fail(ERR_OTA_CANNOT, "the device cannot upgrade now" +
                                           (fw->remind.empty() ? std::string() : ": " + fw->remind)));
      return;
    }
  }
  const uint64_t cloud_timeout =
      fw->timeout_s > 0 ? static_cast<uint64_t>(fw->timeout_s) * 1000 : options_.default_timeout_ms;
  job->deadline_ms = timers_.now_ms() + cloud_timeout + options_.timeout_grace_ms;
  T2M_LOGI(OTA_TAG, "%s: upgrading channel %d from %s to %s", job->device_id.c_str(), job->channel,
           fw->current_version.c_str(), fw->latest_version.c_str());
  if (already_running) {
    report(*job, static_cast<int>(UpgradeStatus::UPGRADING), 0);
    schedule_poll(job);
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  api_.start_firmware_upgrade(job->device_id, job->channel, [this, alive, job](Result<bool> r) {
    if (alive.expired() || !current(job)) return;
    // 1113: an upgrade is already running in the cloud; follow it rather than fail.
    if (!r && tuya_code_of(r.error()) != 1113) {
      finish(job, fail(r.error()));
      return;
    }
    report(*job, static_cast<int>(UpgradeStatus::UPGRADING), 0);
    schedule_poll(job);
  });
}

void OtaManager::schedule_poll(const std::shared_ptr<Job>& job) {
  std::weak_ptr<bool> alive = alive_;
  job->timer = timers_.start(options_.poll_interval_ms, 0, [this, alive, job] {
    if (alive.expired()) return;
    job->timer = NO_TIMER;
    if (current(job)) poll(job);
  });
}

void OtaManager::poll(const std::shared_ptr<Job>& job) {
  if (timers_.now_ms() >= job->deadline_ms) {
    finish(job, fail(ERR_OTA_TIMEOUT, "no result from the device before the upgrade deadline"));
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  api_.get_upgrade_progress(job->device_id, job->channel, [this, alive, job](Result<UpgradeProgress> p) {
    if (alive.expired() || !current(job)) return;
    if (!p) {
      if (++job->poll_errors >= options_.max_poll_errors) {
        finish(job, fail(p.error()));
      } else {
        schedule_poll(job);
      }
      return;
    }
    job->poll_errors = 0;
    report(*job, p->upgrade_status, p->progress);
    switch (static_cast<UpgradeStatus>(p->upgrade_status)) {
      case UpgradeStatus::DONE:
        job->last.progress = 100;
        finish(job, job->last);
        return;
      case UpgradeStatus::FAILED:
        finish(job, fail(ERR_OTA_FAILED, "the device reported a failed upgrade"));
        return;
      case UpgradeStatus::TIMEOUT:
        finish(job, fail(ERR_OTA_TIMEOUT, "the cloud reported the upgrade as timed out"));
        return;
      default:
        schedule_poll(job);
    }
  });
}

void OtaManager::report(Job& job, int status, int progress) {
  if (job.last.status == status && job.last.progress == progress) return;
  job.last.status = status;
  job.last.progress = progress;
  if (job.on_progress) job.on_progress(job.last);
}

void OtaManager::finish(const std::shared_ptr<Job>& job_ref, Result<OtaProgress> r) {
  const std::shared_ptr<Job> job = job_ref;  // the reference may be the map entry erased below
  if (!current(job)) return;
  if (job->timer != NO_TIMER) timers_.cancel(job->timer);
  jobs_.erase(job->device_id);
  if (!r) T2M_LOGW(OTA_TAG, "%s: upgrade ended: %s", job->device_id.c_str(), r.error().message.c_str());
  auto cb = std::move(job->on_done);
  if (cb) cb(std::move(r));
}

void OtaManager::cancel(const std::string& device_id) {
  auto it = jobs_.find(device_id);
  if (it == jobs_.end()) return;
  finish(it->second, fail(ERR_CANCELLED, "stopped following the upgrade"));
}

}  // namespace t2m::cloud
