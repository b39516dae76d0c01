// The fake's endpoint handlers: what each OpenAPI answers from the device, firmware, log and open-hub
// state, once fake_cloud.cpp has checked the signature and the token and routed the request.
#include <algorithm>

#include "tests/fakecloud/fake_cloud.h"
#include "tests/fakecloud/fake_cloud_util.h"

namespace t2m::fakecloud {

using nlohmann::json;
using namespace detail;

json FakeCloud::device_json(const FakeDevice& d, bool camel) const {
  json j = {{"id", d.id},
            {"name", d.name},
            {"uid", d.uid},
            {"owner_id", "home-1"},
            {"category", d.category},
            {"product_id", d.product_id},
            {"product_name", d.product_name},
            {"sub", d.sub},
            {"uuid", d.uuid},
            {"ip", d.ip},
            {"icon", d.icon},
            {"time_zone", d.time_zone},
            {"model", d.model},
            {"active_time", 1690000000},
            {"create_time", 1690000000},
            {"update_time", 1700000000},
            {"status", d.status}};
  if (camel) {
    j["localKey"] = d.local_key;
    j["isOnline"] = d.online;
    j["customName"] = d.name;
  } else {
    j["local_key"] = d.local_key;
    j["online"] = d.online;
  }
  if (!d.node_id.empty()) j["node_id"] = d.node_id;
  if (!d.gateway_id.empty()) j["gateway_id"] = d.gateway_id;
  return j;
}

Response FakeCloud::device_json_list(const std::vector<const FakeDevice*>& list) const {
  json arr = json::array();
  for (const FakeDevice* d : list) arr.push_back(device_json(*d, false));
  return ok(arr);
}

Response FakeCloud::user_devices(const std::string& uid) const {
  if (uid == options_.project_uid) return error(1106, "permission deny");
  std::vector<const FakeDevice*> list;
  for (const auto& [id, d] : devices_) {
    if (d.uid == uid) list.push_back(&d);
  }
  return device_json_list(list);
}

Response FakeCloud::factory_infos(const Request& r) const {
  json arr = json::array();
  for (const auto& id : split(query_get(r.query, "device_ids"), ',')) {
    auto it = devices_.find(id);
    if (it == devices_.end()) continue;
    arr.push_back({{"id", id}, {"mac", it->second.mac}, {"uuid", it->second.uuid}, {"sn", ""}});
  }
  return ok(arr);
}

Response FakeCloud::batch_status(const Request& r) const {
  json arr = json::array();
  for (const auto& id : split(query_get(r.query, "device_ids"), ',')) {
    auto it = devices_.find(id);
    if (it != devices_.end()) arr.push_back({{"id", id}, {"status", it->second.status}});
  }
  return ok(arr);
}

Response FakeCloud::commands(FakeDevice& d, const Request& r) {
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.contains("commands") || !body["commands"].is_array()) {
    return error(1109, "param is illegal");
  }
  json kv = json::object();
  for (const auto& c : body["commands"]) {
    if (!c.is_object() || !c.contains("code") || !c["code"].is_string() || !c.contains("value")) {
      return error(1109, "param is illegal");
    }
    kv[c["code"].get<std::string>()] = c["value"];
  }
  return write(d, kv);
}

Response FakeCloud::issue_properties(FakeDevice& d, const Request& r) {
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.contains("properties")) return error(1109, "param is illegal");
  json props = body["properties"];
  if (props.is_string()) props = json::parse(props.get<std::string>(), nullptr, false);
  if (!props.is_object()) return error(1109, "param is illegal");
  return write(d, props);
}

Response FakeCloud::thing_list(const Request& r) const {
  const int page_size = to_int(query_get(r.query, "page_size"), 0);
  if (page_size <= 0 || page_size > 20) return error(1101, "param is out of range");
  const std::string last_id = query_get(r.query, "last_id");
  json arr = json::array();
  for (auto it = last_id.empty() ? devices_.begin() : devices_.upper_bound(last_id);
       it != devices_.end() && static_cast<int>(arr.size()) < page_size; ++it) {
    arr.push_back(device_json(it->second, options_.camel_case));
  }
  return ok(arr);
}

Response FakeCloud::v13_list(const Request& r) const {
  const std::string source_id = query_get(r.query, "source_id");
  if (query_get(r.query, "source_type") != "tuyaUser") return error(1109, "param is illegal");
  if (source_id == options_.project_uid) return error(1106, "permission deny");
  const int page_size = to_int(query_get(r.query, "page_size"), 20);
  if (page_size <= 0 || page_size > 200) return error(1101, "param is out of range");
  const std::string last = query_get(r.query, "last_row_key");
  json list = json::array();
  std::vector<const FakeDevice*> mine;
  for (const auto& [id, d] : devices_) {
    if (d.uid == source_id) mine.push_back(&d);
  }
  bool has_more = false;
  std::string cursor;
  for (const FakeDevice* d : mine) {
    if (!last.empty() && d->id <= last) continue;
    if (static_cast<int>(list.size()) == page_size) {
      has_more = true;
      break;
    }
    list.push_back(device_json(*d, false));
    cursor = d->id;
  }
  return ok({{"list", list}, {"has_more", has_more}, {"last_row_key", cursor}, {"total", mine.size()}});
}

Response FakeCloud::associated(const Request& r) const {
  const int size = to_int(query_get(r.query, "size"), 20);
  const std::string last = query_get(r.query, "last_row_key");
  json list = json::array();
  bool has_more = false;
  std::string cursor;
  for (const auto& [id, d] : devices_) {
    if (!last.empty() && id <= last) continue;
    if (static_cast<int>(list.size()) == size) {
      has_more = true;
      break;
    }
    list.push_back(device_json(d, false));
    cursor = id;
  }
  return ok(
      {{"devices", list}, {"has_more", has_more}, {"last_row_key", cursor}, {"total", devices_.size()}});
}

Response FakeCloud::specifications(const FakeDevice& d, bool with_dp_id) const {
  if (!d.has_dps) return error(2009, "not support this device");
  json functions = json::array(), status = json::array();
  for (const auto& dp : d.dps) {
    json e = {
        {"code", dp["code"]}, {"type", dp["type"]}, {"values", dp["values"].dump()}, {"name", dp["code"]}};
    if (with_dp_id) e["dp_id"] = dp["dp_id"];
    status.push_back(e);
    if (sval(dp, "mode", "rw") != "ro") functions.push_back(e);
  }
  return ok({{"category", d.category}, {"functions", functions}, {"status", status}});
}

Response FakeCloud::model(const FakeDevice& d) const {
  json props = json::array();
  for (const auto& dp : d.dps) {
    json type_spec = dp["values"];
    const std::string t = dp["type"];
    type_spec["type"] = t == "Boolean"   ? "bool"
                        : t == "Integer" ? "value"
                        : t == "Enum"    ? "enum"
                        : t == "String"  ? "string"
                        : t == "Bitmap"  ? "bitmap"
                                         : "raw";
    props.push_back({{"abilityId", dp["dp_id"]},
                     {"code", dp["code"]},
                     {"name", dp["code"]},
                     {"accessMode", sval(dp, "mode", "rw")},
                     {"typeSpec", type_spec}});
  }
  json m = {{"modelId", d.product_id}, {"services", json::array({{{"code", ""}, {"properties", props}}})}};
  return ok({{"model", m.dump()}});
}

Response FakeCloud::shadow(const FakeDevice& d, const Request& r) const {
  std::vector<std::string> codes;
  if (query_has(r.query, "codes")) codes = split(query_get(r.query, "codes"), ',');
  json props = json::array();
  for (const auto& dp : d.dps) {
    const std::string code = dp["code"];
    if (!codes.empty() && std::find(codes.begin(), codes.end(), code) == codes.end()) continue;
    json value = nullptr;
    for (const auto& s : d.status) {
      if (sval(s, "code", "") == code) value = s["value"];
    }
    props.push_back(
        {{"code", code}, {"dp_id", dp["dp_id"]}, {"custom_name", ""}, {"time", now_ms()}, {"value", value}});
  }
  return ok({{"properties", props}});
}

Response FakeCloud::write(FakeDevice& d, const json& kv) {
  if (!d.online) return error(2001, "device is offline");
  for (const auto& [code, value] : kv.items()) {
    std::string mode, type;
    for (const auto& dp : d.dps) {
      if (sval(dp, "code", "") == code) {
        mode = sval(dp, "mode", "rw");
        type = sval(dp, "type", "");
      }
    }
    if (mode.empty() || mode == "ro") return error(2008, "command or value not support");
    if ((type == "Boolean" && !value.is_boolean()) || (type == "Integer" && !value.is_number_integer()) ||
        (type == "Enum" && !value.is_string())) {
      return error(1104, "type is incorrect");
    }
  }
  for (const auto& [code, value] : kv.items()) {
    bool found = false;
    for (auto& s : d.status) {
      if (sval(s, "code", "") == code) {
        s["value"] = value;
        found = true;
      }
    }
    if (!found) d.status.push_back({{"code", code}, {"value", value}});
    writes_.push_back({{"device", d.id}, {"code", code}, {"value", value}});
  }
  return ok(true);
}

Response FakeCloud::report_logs(const FakeDevice& d, const Request& r) const {
  for (const char* required : {"codes", "start_time", "end_time", "size"}) {
    if (!query_has(r.query, required)) return error(1100, std::string("param is empty: ") + required);
  }
  const auto codes = split(query_get(r.query, "codes"), ',');
  const int64_t start = to_i64(query_get(r.query, "start_time"), 0);
  const int64_t end = to_i64(query_get(r.query, "end_time"), 0);
  const int size = to_int(query_get(r.query, "size"), 20);
  if (size <= 0 || size > 100) return error(1101, "param is out of range");
  std::vector<LogEntry> sel;
  auto it = logs_.find(d.id);
  if (it != logs_.end()) {
    for (const auto& e : it->second) {
      if (e.event_time < start || e.event_time > end) continue;
      if (std::find(codes.begin(), codes.end(), e.code) == codes.end()) continue;
      sel.push_back(e);
    }
  }
  std::stable_sort(sel.begin(), sel.end(),
                   [](const LogEntry& a, const LogEntry& b) { return a.event_time > b.event_time; });
  const std::string cursor = query_get(r.query, "last_row_key");
  size_t offset = 0;
  if (!cursor.empty()) {
    if (cursor.rfind("rk-", 0) != 0) return error(1109, "param is illegal");
    offset = static_cast<size_t>(to_int(cursor.substr(3), 0));
  }
  json logs = json::array();
  size_t i = offset;
  for (; i < sel.size() && logs.size() < static_cast<size_t>(size); ++i) {
    if (options_.camel_case) {
      logs.push_back({{"code", sel[i].code}, {"value", sel[i].value}, {"eventTime", sel[i].event_time}});
    } else {
      logs.push_back({{"code", sel[i].code}, {"value", sel[i].value}, {"event_time", sel[i].event_time}});
    }
  }
  bool has_more = i < sel.size();
  std::string next = "rk-" + std::to_string(i);
  if (options_.logs_cursor_loop) {
    has_more = true;
    next = cursor.empty() ? "rk-0" : cursor;
  }
  json res = {{"device_id", d.id}, {"total", sel.size()}, {"logs", logs}};
  if (options_.camel_case) {
    res["hasMore"] = has_more;
    res["lastRowKey"] = next;
  } else {
    res["has_more"] = has_more;
    res["last_row_key"] = next;
  }
  return ok(res);
}

Response FakeCloud::firmware_query(const FakeDevice& d) const {
  json arr = json::array();
  auto it = firmware_.find(d.id);
  if (it == firmware_.end()) return ok(arr);
  for (const auto& f : it->second) {
    json e = {{"type", f.channel},
              {"type_desc", f.channel == 9 ? "MCU" : "main module"},
              {"upgrade_status", f.upgrade_status},
              {"current_version", f.current_version},
              {"version", f.latest_version},
              {"can_upgrade", f.can_upgrade},
              {"timeout", 600},
              {"upgrade_type", 0},
              {"last_upgrade_time", 0},
              {"desc", "fix bugs"}};
    if (!f.remind.empty()) e["remind"] = f.remind;
    arr.push_back(e);
  }
  return ok(arr);
}

Response FakeCloud::firmware_start(const FakeDevice& d, int channel) {
  FakeFirmware* f = firmware(d.id, channel);
  if (!f) return error(1109, "param is illegal");
  if (!d.online) return error(2001, "device is offline");
  if (f->upgrade_status == 2) return error(1113, "repeated operation in short time");
  if (f->upgrade_status == 0 || f->current_version == f->latest_version)
    return error(1109, "no upgrade available");
  if (!f->can_upgrade) return error(1109, "device can not upgrade");
  f->upgrade_status = 2;
  f->progress = 0;
  return ok(true);
}

Response FakeCloud::firmware_progress(const FakeDevice& d, int channel) {
  FakeFirmware* f = firmware(d.id, channel);
  if (!f) return error(1109, "param is illegal");
  if (f->upgrade_status == 2 && !f->stall) {
    f->progress = std::min(100, f->progress + f->progress_step);
    if (f->progress >= 100) {
      f->upgrade_status = f->outcome;
      if (f->outcome == 3) f->current_version = f->latest_version;
    }
  }
  return ok({{"upgrade_status", f->upgrade_status}, {"progress", f->progress}});
}

Response FakeCloud::openhub_config(const Request& r) {
  if (!openhub_) return error(1106, "permission deny");
  const json body = json::parse(r.body, nullptr, false);
  auto str = [&](const char* key) -> std::string {
    if (!body.is_object() || !body.contains(key) || !body.at(key).is_string()) return {};
    return body.at(key).get<std::string>();
  };
  const std::string version = str("msg_encrypted_version");
  if (str("link_id").empty() || str("link_type") != "mqtt" || str("topics") != "device" ||
      (version != "1.0" && version != "2.0"))
    return error(1109, "param is illegal");
  if (str("uid") != options_.project_uid) return error(1106, "permission deny");
  openhub_requests_.push_back(body);
  const std::string sink = "cloud/token/out/" + openhub_->client_id;
  return ok({{"url", openhub_->url},
             {"client_id", openhub_->client_id},
             {"username", openhub_->username},
             {"password", openhub_->password},
             {"expire_time", openhub_->expire_time_s},
             {"source_topic", {{"device", openhub_->source_topic}}},
             {"sink_topic", {{"device", sink}}}});
}

}  // namespace t2m::fakecloud
