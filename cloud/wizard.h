// The setup wizard's flow: from one device id (or the app account's uid) to the account's devices,
// their local keys, MACs and DP mappings, written as a device list (device_list.h); with `refresh`, the
// previous list is merged and what changed is reported. The command-line front ends, `tuya2mqtt wizard`
// and `tuya2mqtt history`, are in wizard_cli.h. No secret is ever printed.
#pragma once

#include <string>
#include <vector>

#include "cloud/device_list.h"
#include "cloud/openapi.h"
// The command-line entry points stay reachable through this header for the `tuya2mqtt` binary.
#include "cloud/wizard_cli.h"

namespace t2m::cloud {

struct WizardOptions {
  std::string device_id;  // one device of the app account, to learn the owner uid (docs/cloud.md §10.1)
  std::string user_id;    // or the app account uid itself
  std::string out_path = "devices.json";
  bool refresh = false;
  bool with_specs = true;
};

struct WizardReport {
  std::string owner_uid;
  size_t devices = 0;
  size_t sub_devices = 0;
  size_t with_mapping = 0;
  size_t spec_failures = 0;
  std::vector<DeviceListChange> changes;
};

void run_wizard(OpenApi& api, const WizardOptions& options, Callback<WizardReport> cb);

}  // namespace t2m::cloud
