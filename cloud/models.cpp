#include "cloud/models.h"

#include <cctype>
#include <cmath>
#include <initializer_list>

namespace t2m::cloud {

using nlohmann::json;

namespace {

const json* find_any(const json& j, std::initializer_list<const char*> keys) {
  if (!j.is_object()) return nullptr;
  for (const char* k : keys) {
    auto it = j.find(k);
    if (it != j.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

// Strings stay strings; numbers and booleans are rendered (ids sometimes arrive as numbers).
std::string str(const json& j, std::initializer_list<const char*> keys) {
  const json* v = find_any(j, keys);
  if (!v) return {};
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  if (v->is_number()) return v->dump();
  return {};
}

int64_t i64(const json& j, std::initializer_list<const char*> keys, int64_t fallback = 0) {
  const json* v = find_any(j, keys);
  if (!v) return fallback;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {
    // Converting a double outside int64's range is undefined behaviour: such a value is not an id or a time.
    constexpr double INT64_LIMIT = 9.2e18;
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < -INT64_LIMIT || d > INT64_LIMIT) return fallback;
    return static_cast<int64_t>(d);
  }
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    char* end = nullptr;
    long long x = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end && *end == 0) return x;
  }
  return fallback;
}

std::optional<bool> boolean(const json& j, std::initializer_list<const char*> keys) {
  const json* v = find_any(j, keys);
  if (!v) return std::nullopt;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_number_integer()) return v->get<int64_t>() != 0;
  if (v->is_string()) return v->get<std::string>() == "true";
  return std::nullopt;
}

std::optional<double> number(const json& j, const char* key) {
  const json* v = find_any(j, {key});
  if (!v) return std::nullopt;
  if (v->is_number()) return v->get<double>();
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0) return d;
  }
  return std::nullopt;
}

Unexpected<Error> malformed(const std::string& what) {
  return fail(ERR_MALFORMED, "malformed cloud answer: " + what);
}

template <class Fn>
auto guarded(const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const json::exception& e) {
    return malformed(std::string(what) + ": " + e.what());
  }
}

std::vector<DpSpec> parse_spec_list(const json& arr, const char* mode) {
  std::vector<DpSpec> out;
  if (!arr.is_array()) return out;
  for (const auto& e : arr) {
    if (!e.is_object()) continue;
    DpSpec s;
    s.code = str(e, {"code"});
    if (s.code.empty()) continue;
    s.dp_id = static_cast<int>(i64(e, {"dp_id", "dpId"}));
    s.type = str(e, {"type"});
    s.name = str(e, {"name"});
    s.desc = str(e, {"desc"});
    s.mode = mode;
    if (const json* v = find_any(e, {"values"})) apply_values(s, *v);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

void apply_values(DpSpec& spec, const json& values) {
  json v = values;
  if (v.is_string()) {
    const std::string text = v.get<std::string>();
    v = text.empty() ? json::object() : json::parse(text, nullptr, false);
    if (v.is_discarded()) v = json::object();
  }
  if (!v.is_object()) v = json::object();
  spec.values = v;
  spec.min = number(v, "min");
  spec.max = number(v, "max");
  spec.step = number(v, "step");
  spec.scale = static_cast<int>(number(v, "scale").value_or(0));
  spec.unit = str(v, {"unit"});
  spec.range.clear();
  spec.labels.clear();
  if (const json* r = find_any(v, {"range"}); r && r->is_array()) {
    for (const auto& x : *r) {
      if (x.is_string()) spec.range.push_back(x.get<std::string>());
    }
  }
  if (const json* l = find_any(v, {"label"}); l && l->is_array()) {
    for (const auto& x : *l) {
      if (x.is_string()) spec.labels.push_back(x.get<std::string>());
    }
  }
  if (auto m = number(v, "maxlen")) spec.maxlen = static_cast<int>(*m);
}

std::string normalize_mac(std::string_view mac) {
  std::string hex;
  for (char c : mac) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (c != ':' && c != '-' && c != '.') {
      return std::string(mac);
    }
  }
  if (hex.size() != 12) return std::string(mac);
  std::string out;
  for (size_t i = 0; i < 12; i += 2) {
    if (!out.empty()) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

std::vector<DpSpec> Specification::merged() const {
  std::vector<DpSpec> out = functions;
  for (const auto& s : status) {
    bool found = false;
    for (auto& o : out) {
      if (o.code == s.code) {
        found = true;
        if (o.dp_id == 0) o.dp_id = s.dp_id;
      }
    }
    if (!found) {
      DpSpec ro = s;
      ro.mode = "ro";
      out.push_back(std::move(ro));
    }
  }
  return out;
}

Result<TokenInfo> parse_token(const json& r) {
  return guarded("token", [&]() -> Result<TokenInfo> {
    TokenInfo t;
    t.access_token = str(r, {"access_token", "accessToken"});
    t.refresh_token = str(r, {"refresh_token", "refreshToken"});
    t.expire_time_s = i64(r, {"expire_time", "expire", "expireTime"}, 0);
    t.uid = str(r, {"uid"});
    if (t.access_token.empty() || t.expire_time_s <= 0)
      return malformed("token without access_token/expire_time");
    return t;
  });
}

Result<DeviceInfo> parse_device(const json& j) {
  return guarded("device", [&]() -> Result<DeviceInfo> {
    if (!j.is_object()) return malformed("device is not an object");
    DeviceInfo d;
    d.id = str(j, {"id", "device_id", "devId"});
    if (d.id.empty()) return malformed("device without id");
    d.name = str(j, {"name", "custom_name", "customName"});
    d.local_key = str(j, {"local_key", "localKey"});
    d.category = str(j, {"category"});
    d.product_id = str(j, {"product_id", "productId"});
    d.product_name = str(j, {"product_name", "productName"});
    d.uuid = str(j, {"uuid"});
    d.uid = str(j, {"uid"});
    d.owner_id = str(j, {"owner_id", "ownerId"});
    d.ip = str(j, {"ip"});
    d.mac = normalize_mac(str(j, {"mac"}));
    d.model = str(j, {"model"});
    d.icon = str(j, {"icon"});
    d.biz_type = str(j, {"biz_type", "bizType"});
    d.node_id = str(j, {"node_id", "nodeId"});
    d.gateway_id = str(j, {"gateway_id", "gatewayId", "parent_id"});
    d.time_zone = str(j, {"time_zone", "timeZone"});
    d.sn = str(j, {"sn"});
    d.sub = boolean(j, {"sub"}).value_or(false);
    d.online = boolean(j, {"online", "is_online", "isOnline"});
    d.active_time = i64(j, {"active_time", "activeTime"});
    d.create_time = i64(j, {"create_time", "createTime"});
    d.update_time = i64(j, {"update_time", "updateTime"});
    if (const json* s = find_any(j, {"status"}); s && s->is_array()) d.status = *s;
    return d;
  });
}

Result<DevicePage> parse_device_page(const json& r) {
  return guarded("device list", [&]() -> Result<DevicePage> {
    DevicePage page;
    const json* arr = &r;
    if (r.is_object()) {
      arr = find_any(r, {"list", "devices"});
      if (!arr) return malformed("device list without list/devices");
      page.has_more = boolean(r, {"has_more", "hasMore"}).value_or(false);
      page.cursor = str(r, {"last_row_key", "lastRowKey", "last_id"});
    }
    if (!arr->is_array()) return malformed("device list is not an array");
    for (const auto& e : *arr) {
      auto d = parse_device(e);
      if (!d) return fail(d.error());
      page.devices.push_back(std::move(d.value()));
    }
    return page;
  });
}

Result<std::vector<FactoryInfo>> parse_factory_infos(const json& r) {
  return guarded("factory infos", [&]() -> Result<std::vector<FactoryInfo>> {
    if (!r.is_array()) return malformed("factory infos is not an array");
    std::vector<FactoryInfo> out;
    for (const auto& e : r) {
      FactoryInfo f{str(e, {"id"}), normalize_mac(str(e, {"mac"})), str(e, {"uuid"}), str(e, {"sn"})};
      if (!f.id.empty()) out.push_back(std::move(f));
    }
    return out;
  });
}

Result<Specification> parse_specification(const json& r) {
  return guarded("specification", [&]() -> Result<Specification> {
    if (!r.is_object()) return malformed("specification is not an object");
    Specification s;
    s.category = str(r, {"category"});
    if (const json* f = find_any(r, {"functions"})) s.functions = parse_spec_list(*f, "rw");
    if (const json* st = find_any(r, {"status"})) s.status = parse_spec_list(*st, "ro");
    if (!find_any(r, {"functions"}) && !find_any(r, {"status"}))
      return malformed("specification without functions/status");
    return s;
  });
}

Result<std::vector<DpSpec>> parse_thing_model(const json& r) {
  return guarded("thing model", [&]() -> Result<std::vector<DpSpec>> {
    const json* m = find_any(r, {"model"});
    if (!m) return malformed("no model");
    json model = m->is_string() ? json::parse(m->get<std::string>(), nullptr, false) : *m;
    if (model.is_discarded() || !model.is_object()) return malformed("model is not JSON");
    std::vector<DpSpec> out;
    const json* services = find_any(model, {"services"});
    if (!services || !services->is_array()) return out;
    for (const auto& svc : *services) {
      const json* props = find_any(svc, {"properties"});
      if (!props || !props->is_array()) continue;
      for (const auto& p : *props) {
        DpSpec s;
        s.dp_id = static_cast<int>(i64(p, {"abilityId"}));
        s.code = str(p, {"code"});
        s.name = str(p, {"name"});
        const std::string access = str(p, {"accessMode"});
        s.mode = access.empty() ? "rw" : access;
        json ts = p.contains("typeSpec") ? p["typeSpec"] : json::object();
        const std::string t = str(ts, {"type"});
        s.type = t == "bool"     ? "Boolean"
                 : t == "value"  ? "Integer"
                 : t == "enum"   ? "Enum"
                 : t == "string" ? "String"
                 : t == "bitmap" ? "Bitmap"
                 : t == "raw"    ? "Raw"
                                 : "Json";
        if (ts.is_object()) ts.erase("type");
        apply_values(s, ts);
        if (!s.code.empty()) out.push_back(std::move(s));
      }
    }
    return out;
  });
}

Result<std::vector<ShadowProperty>> parse_shadow_properties(const json& r) {
  return guarded("shadow properties", [&]() -> Result<std::vector<ShadowProperty>> {
    const json* props = find_any(r, {"properties"});
    if (!props || !props->is_array()) return malformed("shadow without properties");
    std::vector<ShadowProperty> out;
    for (const auto& p : *props) {
      ShadowProperty s;
      s.code = str(p, {"code"});
      s.custom_name = str(p, {"custom_name", "customName"});
      s.dp_id = static_cast<int>(i64(p, {"dp_id", "dpId"}));
      s.time = i64(p, {"time"});
      if (p.is_object() && p.contains("value")) s.value = p["value"];
      if (!s.code.empty()) out.push_back(std::move(s));
    }
    return out;
  });
}

Result<std::vector<FirmwareInfo>> parse_firmware_list(const json& r) {
  return guarded("firmware", [&]() -> Result<std::vector<FirmwareInfo>> {
    // Documented as a FusionResult: tolerate a nested {"result": [...]}.
    const json* arr = &r;
    if (r.is_object()) arr = find_any(r, {"result", "firmwares", "list"});
    if (!arr || !arr->is_array()) return malformed("firmware list is not an array");
    std::vector<FirmwareInfo> out;
    for (const auto& e : *arr) {
      if (!e.is_object()) continue;
      FirmwareInfo f;
      f.channel = static_cast<int>(i64(e, {"type", "channel", "module_type"}));
      f.channel_desc = str(e, {"type_desc", "module_desc"});
      f.upgrade_status = static_cast<int>(i64(e, {"upgrade_status", "upgradeStatus"}));
      f.current_version = str(e, {"current_version", "currentVersion"});
      f.latest_version = str(e, {"version", "upgrade_version", "upgradeVersion"});
      f.desc = str(e, {"desc", "upgrade_desc"});
      f.remind = str(e, {"remind"});
      f.can_upgrade = boolean(e, {"can_upgrade", "canUpgrade"}).value_or(f.upgrade_status == 1);
      f.timeout_s = static_cast<int>(i64(e, {"timeout"}));
      f.upgrade_type = static_cast<int>(i64(e, {"upgrade_type", "upgradeType"}));
      f.last_upgrade_time = i64(e, {"last_upgrade_time", "lastUpgradeTime"});
      out.push_back(std::move(f));
    }
    return out;
  });
}

Result<UpgradeProgress> parse_upgrade_progress(const json& r) {
  return guarded("upgrade progress", [&]() -> Result<UpgradeProgress> {
    const json* obj = &r;
    if (r.is_object() && r.contains("result") && r["result"].is_object()) obj = &r["result"];
    if (!obj->is_object() || !find_any(*obj, {"upgrade_status", "upgradeStatus", "status"})) {
      return malformed("progress without upgrade_status");
    }
    UpgradeProgress p;
    p.upgrade_status = static_cast<int>(i64(*obj, {"upgrade_status", "upgradeStatus", "status"}));
    p.progress = static_cast<int>(i64(*obj, {"progress"}));
    return p;
  });
}

Result<ReportLogPage> parse_report_logs(const json& r) {
  return guarded("report logs", [&]() -> Result<ReportLogPage> {
    if (!r.is_object()) return malformed("report logs is not an object");
    const json* logs = find_any(r, {"logs"});
    if (!logs || !logs->is_array()) return malformed("report logs without logs");
    ReportLogPage page;
    page.has_more = boolean(r, {"has_more", "hasMore"}).value_or(false);
    page.last_row_key = str(r, {"last_row_key", "lastRowKey"});
    page.total = i64(r, {"total"});
    for (const auto& e : *logs) {
      if (!e.is_object()) continue;
      ReportLog l;
      l.code = str(e, {"code"});
      const json* v = find_any(e, {"value"});
      l.value = v ? (v->is_string() ? v->get<std::string>() : v->dump()) : "";
      l.event_time = i64(e, {"event_time", "eventTime"});
      if (!l.code.empty() && l.event_time > 0) page.logs.push_back(std::move(l));
    }
    return page;
  });
}

}  // namespace t2m::cloud
