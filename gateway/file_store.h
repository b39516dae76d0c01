// Where the gateway keeps what it changes: the configuration file it was started with (devices added,
// renamed, reconfigured or removed over MQTT or by the cloud) and, in the state directory, what it learned
// about devices (probed protocol versions, device22 modes) so a restart does not probe again. The state
// directory is --state-dir, else systemd's $STATE_DIRECTORY (StateDirectory= in the packaged unit: the
// config in /etc stays read-only to the service), else the configuration's own directory. Loop thread only.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "gateway/device_registry.h"

namespace t2m::gw {

inline constexpr std::string_view LEARNED_FILE_NAME = "learned.json";

// The state directory for a configuration at `config_path` (see above); `flag` is --state-dir or "".
std::string state_directory(const std::string& config_path, const std::string& flag);

class FileStore final : public DeviceStore {
 public:
  FileStore(std::string config_path, std::string state_dir);

  Status save_config(const config::Config& config) override;
  void save_learned(const nlohmann::json& learned) override;
  // What save_learned wrote last time (an empty object when nothing, or nothing readable, was kept).
  // Reads the file a release before this one kept next to the configuration when the state directory has
  // none yet.
  nlohmann::json load_learned() const;
  const std::string& learned_path() const { return learned_path_; }

 private:
  std::string config_path_;
  std::string learned_path_;
  bool warned_unwritable_ = false;
};

}  // namespace t2m::gw
