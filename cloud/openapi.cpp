#include "cloud/openapi.h"

#include <algorithm>
#include <optional>
#include <set>

#include "common/log.h"

namespace t2m::cloud {

using nlohmann::json;

namespace {

const char* const OPENAPI_TAG = "cloud.api";
// Hard stop for cursor walks, far above any real account (20 per page -> 10 000 devices).
constexpr int MAX_PAGES = 500;
constexpr int THING_PAGE_SIZE = 20;       // documented maximum of /v2.0/cloud/thing/device
constexpr int V13_PAGE_SIZE = 100;        // ≤ 200 allowed
constexpr int ASSOCIATED_PAGE_SIZE = 50;  // what tinytuya uses
constexpr size_t FACTORY_BATCH = 50;
constexpr size_t STATUS_BATCH = 20;  // documented limit of the batch status API

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

template <class T, class Parse>
JsonCallback parsed(Callback<T> cb, Parse parse) {
  return [cb = std::move(cb), parse](Result<json> r) {
    if (!r) {
      cb(fail(r.error()));
      return;
    }
    cb(parse(*r));
  };
}

JsonCallback as_bool(Callback<bool> cb) {
  return [cb = std::move(cb)](Result<json> r) {
    if (!r) {
      cb(fail(r.error()));
      return;
    }
    // Tuya answers `true` or `{}`; an explicit false is a failed command.
    if (r->is_boolean() && !r->get<bool>()) {
      cb(fail(ERR_COMMAND, "the cloud answered false"));
      return;
    }
    cb(true);
  };
}

}  // namespace

void OpenApi::get_device(const std::string& id, Callback<DeviceInfo> cb) {
  channel_.get("/v1.0/devices/" + id, {},
               parsed<DeviceInfo>(std::move(cb), [](const json& j) { return parse_device(j); }));
}

void OpenApi::refresh_local_key(const std::string& id, Callback<std::string> cb) {
  get_device(id, [cb = std::move(cb), id](Result<DeviceInfo> d) {
    if (!d) {
      cb(fail(d.error()));
      return;
    }
    if (d->local_key.empty()) {
      cb(fail(ERR_NOT_FOUND, "the cloud has no local key for " + id));
      return;
    }
    log_register_secret(d->local_key);
    cb(d->local_key);
  });
}

void OpenApi::get_status(const std::string& id, JsonCallback cb) {
  channel_.get("/v1.0/devices/" + id + "/status", {}, std::move(cb));
}

void OpenApi::get_statuses(const std::vector<std::string>& ids, Callback<std::map<std::string, json>> cb) {
  struct Acc {
    std::map<std::string, json> out;
    int remaining = 0;
    std::optional<Error> error;
    Callback<std::map<std::string, json>> cb;
  };
  auto acc = std::make_shared<Acc>();
  acc->cb = std::move(cb);
  if (ids.empty()) {
    channel_.defer([acc] { acc->cb(std::map<std::string, json>{}); });
    return;
  }
  for (size_t i = 0; i < ids.size(); i += STATUS_BATCH) {
    std::vector<std::string> batch(
        ids.begin() + static_cast<std::ptrdiff_t>(i),
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + STATUS_BATCH)));
    ++acc->remaining;
    channel_.get("/v1.0/iot-03/devices/status", {{"device_ids", join(batch, ',')}}, [acc](Result<json> r) {
      if (!r) {
        acc->error = r.error();
      } else if (r->is_array()) {
        for (const auto& e : *r) {
          if (e.is_object() && e.contains("id") && e["id"].is_string() && e.contains("status")) {
            acc->out[e["id"].get<std::string>()] = e["status"];
          }
        }
      } else {
        acc->error = Error{ERR_MALFORMED, "batch status is not an array"};
      }
      if (--acc->remaining == 0) {
        if (acc->error) {
          acc->cb(fail(*acc->error));
        } else {
          acc->cb(std::move(acc->out));
        }
      }
    });
  }
}

struct OpenApi::Walk {
  Listing api;
  std::string owner;
  std::vector<DeviceInfo> out;
  std::set<std::string> ids;
  std::set<std::string> cursors;
  int pages = 0;
  Callback<std::vector<DeviceInfo>> cb;
};

void OpenApi::list_devices_with(Listing api, const std::string& owner_uid,
                                Callback<std::vector<DeviceInfo>> cb) {
  auto w = std::make_shared<Walk>();
  w->api = api;
  w->owner = owner_uid;
  w->cb = std::move(cb);
  if ((api == Listing::IOT03_V13 || api == Listing::USER_V1) && owner_uid.empty()) {
    channel_.defer([w] { w->cb(fail(ERR_BAD_REQUEST, "this listing needs the app account's uid")); });
    return;
  }
  walk_page(w, "");
}

void OpenApi::walk_page(const std::shared_ptr<Walk>& w, const std::string& cursor) {
  std::string path;
  KeyValues q;
  switch (w->api) {
    case Listing::THING_V2:
      path = "/v2.0/cloud/thing/device";
      q = {{"page_size", std::to_string(THING_PAGE_SIZE)}};
      if (!cursor.empty()) q.emplace_back("last_id", cursor);
      break;
    case Listing::IOT03_V13:
      path = "/v1.3/iot-03/devices";
      q = {
          {"source_type", "tuyaUser"}, {"source_id", w->owner}, {"page_size", std::to_string(V13_PAGE_SIZE)}};
      if (!cursor.empty()) q.emplace_back("last_row_key", cursor);
      break;
    case Listing::ASSOCIATED_USERS:
      path = "/v1.0/iot-01/associated-users/devices";
      q = {{"size", std::to_string(ASSOCIATED_PAGE_SIZE)}};
      if (!cursor.empty()) q.emplace_back("last_row_key", cursor);
      break;
    case Listing::USER_V1:
      path = "/v1.0/users/" + w->owner + "/devices";
      break;
  }
  channel_.get(path, q, [this, w](Result<json> r) {
    if (!r) {
      w->cb(fail(r.error()));
      return;
    }
    auto page = parse_device_page(*r);
    if (!page) {
      w->cb(fail(page.error()));
      return;
    }
    ++w->pages;
    size_t fresh = 0;
    for (auto& d : page->devices) {
      if (w->ids.insert(d.id).second) {
        ++fresh;
        w->out.push_back(std::move(d));
      }
    }
    std::string next;
    bool more = false;
    if (w->api == Listing::THING_V2) {
      // Plain array: a short page is the last one; the cursor is the last id seen.
      more = static_cast<int>(page->devices.size()) >= THING_PAGE_SIZE;
      next = w->out.empty() ? std::string() : w->out.back().id;
    } else if (w->api != Listing::USER_V1) {
      more = page->has_more;
      next = page->cursor;
    }
    if (more && (next.empty() || !w->cursors.insert(next).second || fresh == 0 || w->pages >= MAX_PAGES)) {
      T2M_LOGW(OPENAPI_TAG, "device listing stopped: the cloud repeated its cursor or sent an empty page");
      more = false;
    }
    if (more) {
      walk_page(w, next);
    } else {
      w->cb(std::move(w->out));
    }
  });
}

void OpenApi::list_devices(const std::string& owner_uid, Callback<std::vector<DeviceInfo>> cb) {
  struct Merge {
    std::vector<DeviceInfo> out;
    std::map<std::string, size_t> index;
    std::vector<Error> errors;
    int remaining = 0;
    Callback<std::vector<DeviceInfo>> cb;
    void add(std::vector<DeviceInfo> list) {
      for (auto& d : list) {
        auto it = index.find(d.id);
        if (it == index.end()) {
          index[d.id] = out.size();
          out.push_back(std::move(d));
        } else {
          DeviceInfo& have = out[it->second];
          if (have.local_key.empty()) have.local_key = d.local_key;
          if (have.node_id.empty()) have.node_id = d.node_id;
          if (have.gateway_id.empty()) have.gateway_id = d.gateway_id;
          if (have.name.empty()) have.name = d.name;
        }
      }
    }
    void done() {
      if (--remaining > 0) return;
      // Partial answers are fine (APIs not subscribed); only all-failed is an error.
      if (out.empty() && !errors.empty()) {
        cb(fail(errors.front()));
      } else {
        cb(std::move(out));
      }
    }
  };
  auto m = std::make_shared<Merge>();
  m->cb = std::move(cb);
  m->remaining = 3;
  auto collect = [m](Result<std::vector<DeviceInfo>> r) {
    if (r) {
      m->add(std::move(r.value()));
    } else {
      T2M_LOGD(OPENAPI_TAG, "a device listing failed: %s", r.error().message.c_str());
      m->errors.push_back(r.error());
    }
    m->done();
  };
  if (owner_uid.empty()) {
    m->remaining = 2;
  } else {
    list_devices_with(Listing::IOT03_V13, owner_uid,
                      [this, m, owner_uid, collect](Result<std::vector<DeviceInfo>> r) {
                        if (r) {
                          collect(std::move(r));
                          return;
                        }
                        // Projects without the v1.3 API still have the legacy per-user listing.
                        list_devices_with(Listing::USER_V1, owner_uid, collect);
                      });
  }
  list_devices_with(Listing::THING_V2, "", collect);
  list_devices_with(Listing::ASSOCIATED_USERS, "", collect);
}

void OpenApi::factory_infos(const std::vector<std::string>& ids, Callback<std::vector<FactoryInfo>> cb) {
  struct Acc {
    std::vector<FactoryInfo> out;
    int remaining = 0;
    std::optional<Error> error;
    Callback<std::vector<FactoryInfo>> cb;
  };
  auto acc = std::make_shared<Acc>();
  acc->cb = std::move(cb);
  if (ids.empty()) {
    channel_.defer([acc] { acc->cb(std::vector<FactoryInfo>{}); });
    return;
  }
  for (size_t i = 0; i < ids.size(); i += FACTORY_BATCH) {
    std::vector<std::string> batch(
        ids.begin() + static_cast<std::ptrdiff_t>(i),
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + FACTORY_BATCH)));
    ++acc->remaining;
    channel_.get("/v1.0/devices/factory-infos", {{"device_ids", join(batch, ',')}}, [acc](Result<json> r) {
      if (r) {
        auto f = parse_factory_infos(*r);
        if (f) {
          for (auto& x : f.value()) acc->out.push_back(std::move(x));
        } else {
          acc->error = f.error();
        }
      } else {
        acc->error = r.error();
      }
      if (--acc->remaining == 0) {
        if (acc->out.empty() && acc->error) {
          acc->cb(fail(*acc->error));
        } else {
          acc->cb(std::move(acc->out));
        }
      }
    });
  }
}

void OpenApi::get_thing_model(const std::string& id, Callback<std::vector<DpSpec>> cb) {
  channel_.get(
      "/v2.0/cloud/thing/" + id + "/model", {},
      parsed<std::vector<DpSpec>>(std::move(cb), [](const json& j) { return parse_thing_model(j); }));
}

void OpenApi::get_shadow_properties(const std::string& id, const std::vector<std::string>& codes,
                                    Callback<std::vector<ShadowProperty>> cb) {
  KeyValues q;
  if (!codes.empty()) q.emplace_back("codes", join(codes, ','));
  channel_.get("/v2.0/cloud/thing/" + id + "/shadow/properties", q,
               parsed<std::vector<ShadowProperty>>(std::move(cb),
                                                   [](const json& j) { return parse_shadow_properties(j); }));
}

void OpenApi::get_specification(const std::string& id, Callback<Specification> cb) {
  auto fill_ids = [this, id](Specification spec, Callback<Specification> done) {
    auto missing = [](const Specification& s) {
      auto none = [](const std::vector<DpSpec>& v) {
        return std::any_of(v.begin(), v.end(), [](const DpSpec& d) { return d.dp_id == 0; });
      };
      return none(s.functions) || none(s.status);
    };
    auto apply = [](Specification& s, const std::map<std::string, int>& ids) {
      for (auto* v : {&s.functions, &s.status}) {
        for (auto& d : *v) {
          auto it = ids.find(d.code);
          if (d.dp_id == 0 && it != ids.end()) d.dp_id = it->second;
        }
      }
    };
    if (!missing(spec)) {
      done(std::move(spec));
      return;
    }
    get_thing_model(id, [this, id, spec, done, missing, apply](Result<std::vector<DpSpec>> model) mutable {
      if (model) {
        std::map<std::string, int> ids;
        for (const auto& d : model.value()) {
          if (d.dp_id) ids[d.code] = d.dp_id;
        }
        apply(spec, ids);
      }
      if (!missing(spec)) {
        done(std::move(spec));
        return;
      }
      get_shadow_properties(id, {}, [spec, done, apply](Result<std::vector<ShadowProperty>> props) mutable {
        if (props) {
          std::map<std::string, int> ids;
          for (const auto& p : props.value()) {
            if (p.dp_id) ids[p.code] = p.dp_id;
          }
          apply(spec, ids);
        }
        done(std::move(spec));
      });
    });
  };
  channel_.get("/v1.1/devices/" + id + "/specifications", {},
               [this, id, cb = std::move(cb), fill_ids](Result<json> r) mutable {
                 if (r) {
                   auto spec = parse_specification(*r);
                   if (!spec) {
                     cb(fail(spec.error()));
                     return;
                   }
                   fill_ids(std::move(spec.value()), std::move(cb));
                   return;
                 }
                 if (tuya_code_of(r.error()) == TUYA_CODE_NO_DPS) {  // e.g. a gateway
                   cb(Specification{});
                   return;
                 }
                 if (r.error().code != std::string(ERR_PERMISSION) &&
                     r.error().code != std::string(ERR_API_UNAVAILABLE)) {
                   cb(fail(r.error()));
                   return;
                 }
                 channel_.get("/v1.0/iot-03/devices/" + id + "/specification", {},
                              [cb = std::move(cb), fill_ids](Result<json> r2) mutable {
                                if (!r2) {
                                  cb(fail(r2.error()));
                                  return;
                                }
                                auto spec = parse_specification(*r2);
                                if (!spec) {
                                  cb(fail(spec.error()));
                                  return;
                                }
                                fill_ids(std::move(spec.value()), std::move(cb));
                              });
               });
}

void OpenApi::send_commands(const std::string& id, const json& code_values, Callback<bool> cb) {
  json commands = json::array();
  if (code_values.is_object()) {
    for (const auto& [code, value] : code_values.items())
      commands.push_back({{"code", code}, {"value", value}});
  }
  const std::string body = proto::dump_lossy(json{{"commands", commands}});
  channel_.call("POST", "/v1.0/devices/" + id + "/commands", {}, body,
                [this, id, body, cb = std::move(cb)](Result<json> r) mutable {
                  if (!r && (r.error().code == std::string(ERR_PERMISSION) ||
                             r.error().code == std::string(ERR_API_UNAVAILABLE))) {
                    // Some projects only allow the iot-03 family (docs/cloud.md §4.5).
                    channel_.call("POST", "/v1.0/iot-03/devices/" + id + "/commands", {}, body,
                                  as_bool(std::move(cb)));
                    return;
                  }
                  as_bool(std::move(cb))(std::move(r));
                });
}

void OpenApi::issue_properties(const std::string& id, const json& code_values, Callback<bool> cb) {
  // Documented type String: the properties object as JSON text.
  channel_.post("/v2.0/cloud/thing/" + id + "/shadow/properties/issue",
                json{{"properties", proto::dump_lossy(code_values)}}, as_bool(std::move(cb)));
}

void OpenApi::get_firmware(const std::string& id, Callback<std::vector<FirmwareInfo>> cb) {
  channel_.get(
      "/v2.0/cloud/thing/" + id + "/firmware", {},
      parsed<std::vector<FirmwareInfo>>(std::move(cb), [](const json& j) { return parse_firmware_list(j); }));
}

void OpenApi::start_firmware_upgrade(const std::string& id, int channel, Callback<bool> cb) {
  channel_.call("POST", "/v2.0/cloud/thing/" + id + "/firmware/" + std::to_string(channel), {}, {},
                as_bool(std::move(cb)));
}

void OpenApi::get_upgrade_progress(const std::string& id, int channel, Callback<UpgradeProgress> cb) {
  channel_.get(
      "/v2.0/cloud/thing/" + id + "/firmware/" + std::to_string(channel) + "/progress", {},
      parsed<UpgradeProgress>(std::move(cb), [](const json& j) { return parse_upgrade_progress(j); }));
}

void OpenApi::get_report_logs(const std::string& id, const std::vector<std::string>& codes, int64_t start_ms,
                              int64_t end_ms, int size, const std::string& last_row_key,
                              Callback<ReportLogPage> cb) {
  KeyValues q = {{"codes", join(codes, ',')},
                 {"start_time", std::to_string(start_ms)},
                 {"end_time", std::to_string(end_ms)},
                 {"size", std::to_string(size)}};
  if (!last_row_key.empty()) q.emplace_back("last_row_key", last_row_key);
  channel_.get("/v2.1/cloud/thing/" + id + "/report-logs", q,
               parsed<ReportLogPage>(std::move(cb), [](const json& j) { return parse_report_logs(j); }));
}

}  // namespace t2m::cloud
