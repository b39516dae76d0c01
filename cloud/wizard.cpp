#include "cloud/wizard.h"

#include <map>
#include <memory>

#include "common/log.h"

namespace t2m::cloud {

using nlohmann::json;

namespace {

const char* const WIZARD_TAG = "cloud.wizard";

struct WizardRun {
  OpenApi* api = nullptr;
  WizardOptions options;
  WizardReport report;
  std::vector<DeviceInfo> devices;
  std::map<std::string, json> mappings;
  size_t specs_pending = 0;
  Callback<WizardReport> cb;
};

void wizard_write(const std::shared_ptr<WizardRun>& w) {
  json fresh = json::array();
  for (const auto& d : w->devices) {
    auto it = w->mappings.find(d.id);
    const json mapping = it == w->mappings.end() ? json::object() : it->second;
    if (!mapping.empty()) ++w->report.with_mapping;
    if (d.sub) ++w->report.sub_devices;
    log_register_secret(d.local_key);
    fresh.push_back(device_list_entry(d, mapping));
  }
  json out = fresh;
  if (w->options.refresh) {
    auto old = read_device_list(w->options.out_path);
    if (!old) {
      w->cb(fail(old.error()));
      return;
    }
    out = merge_device_lists(old.value(), fresh, w->report.changes);
  }
  w->report.devices = out.size();
  if (auto st = write_private_file(w->options.out_path, out.dump(2) + "\n"); !st) {
    w->cb(fail(st.error()));
    return;
  }
  w->cb(std::move(w->report));
}

void wizard_specs(const std::shared_ptr<WizardRun>& w) {
  if (!w->options.with_specs || w->devices.empty()) {
    wizard_write(w);
    return;
  }
  w->specs_pending = w->devices.size();
  for (const auto& d : w->devices) {
    const std::string id = d.id;
    w->api->get_specification(id, [w, id](Result<Specification> spec) {
      if (spec) {
        w->mappings[id] = mapping_from_spec(spec.value());
      } else {
        ++w->report.spec_failures;
        T2M_LOGW(WIZARD_TAG, "no DP specification for %s: %s", id.c_str(), spec.error().message.c_str());
      }
      if (--w->specs_pending == 0) wizard_write(w);
    });
  }
}

void wizard_list(const std::shared_ptr<WizardRun>& w) {
  w->api->list_devices(w->report.owner_uid, [w](Result<std::vector<DeviceInfo>> list) {
    if (!list) {
      w->cb(fail(list.error()));
      return;
    }
    w->devices = std::move(list.value());
    if (w->devices.empty()) {
      w->cb(
          fail(ERR_NOT_FOUND,
               "the cloud lists no devices: is the app account linked to the project, and is the region the "
               "app account's data center?"));
      return;
    }
    std::vector<std::string> ids;
    for (const auto& d : w->devices) ids.push_back(d.id);
    // MACs are optional: the factory-infos API is often not authorised.
    w->api->factory_infos(ids, [w](Result<std::vector<FactoryInfo>> infos) {
      if (infos) {
        std::map<std::string, const FactoryInfo*> by_id;
        for (const auto& f : infos.value()) by_id[f.id] = &f;
        for (auto& d : w->devices) {
          auto it = by_id.find(d.id);
          if (it != by_id.end() && d.mac.empty()) d.mac = it->second->mac;
        }
      }
      wizard_specs(w);
    });
  });
}

}  // namespace

void run_wizard(OpenApi& api, const WizardOptions& options, Callback<WizardReport> cb) {
  auto w = std::make_shared<WizardRun>();
  w->api = &api;
  w->options = options;
  w->cb = std::move(cb);
  if (options.device_id.empty() && options.user_id.empty()) {
    w->cb(fail(ERR_BAD_REQUEST, "give one device id (--device-id) or the app account's user id (--user-id)"));
    return;
  }
  api.channel().connect([w](Result<std::string> project_uid) {
    if (!project_uid) {
      w->cb(fail(project_uid.error()));
      return;
    }
    if (!w->options.user_id.empty()) {
      w->report.owner_uid = w->options.user_id;
      wizard_list(w);
      return;
    }
    // The project's uid does not list the app account's devices; one known device names its owner.
    w->api->get_device(w->options.device_id, [w](Result<DeviceInfo> d) {
      if (!d) {
        w->cb(fail(d.error().code, "cannot read device " + w->options.device_id + ": " + d.error().message));
        return;
      }
      if (d->uid.empty()) {
        w->cb(fail(ERR_MALFORMED, "the device's details name no owner uid; give --user-id"));
        return;
      }
      w->report.owner_uid = d->uid;
      wizard_list(w);
    });
  });
}

}  // namespace t2m::cloud
