// Shared by the HA discovery tests (ha_discovery_test.cpp, ha_components_test.cpp): one device of every
// kind with its discovery payload and a plausible state, a tiny renderer for the templates the discovery
// writes, and what the gateway does with the commands HA would send.
#pragma once

#include <doctest/doctest.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "model/convert.h"
#include "model/derived_model.h"
#include "mqtt/ha_discovery.h"
#include "mqtt/payload.h"
#include "mqtt/topics.h"

namespace t2m::mqtt::ha_testing {

using nlohmann::json;

inline const ha::Options OPTS{"homeassistant", "tuya2mqtt", "0.1.0", "https://example.invalid/tuya2mqtt"};

// ---- devices -------------------------------------------------------------------------------------

inline config::DeviceConfig device(const std::string& id, const std::string& name,
                                   const std::string& category) {
  config::DeviceConfig d;
  d.id = id;
  d.local_key = "0123456789abcdef";
  d.name = name;
  d.category = category;
  return d;
}

// A plausible full report for a model: every known DP with a value of its type.
inline json sample_dps(const model::DerivedModel& m) {
  json dps = json::object();
  for (const auto& [id, d] : m.dps) {
    const std::string k = std::to_string(id);
    if (d.code.rfind("colour_data", 0) == 0) {  // a "Json" DP in the cloud spec, a hex string on the wire
      dps[k] = id < 20 ? "ff00000000ffff" : "007803e803e8";
      continue;
    }
    switch (d.spec.type) {
      case proto::DpType::BOOL:
        dps[k] = true;
        break;
      case proto::DpType::INTEGER:
        dps[k] = d.spec.has_range ? d.spec.min + d.spec.step : 1;
        break;
      case proto::DpType::ENUM:
        dps[k] = d.spec.range.empty() ? "x" : d.spec.range.front();
        break;
      case proto::DpType::STRING:
        dps[k] = "abc";
        break;
      case proto::DpType::BITMAP:
        dps[k] = 0;
        break;
      default:
        break;
    }
  }
  return dps;
}

struct Case {
  config::DeviceConfig cfg;
  model::DerivedModel model;
  json payload;
  json state;
};

inline Case make(config::DeviceConfig cfg, bool firmware = true, std::vector<ha::EventEntity> events = {}) {
  Case c;
  c.cfg = std::move(cfg);
  c.model = model::derive_model(c.cfg);
  ha::DeviceInfo info;
  info.config = &c.cfg;
  info.model = &c.model;
  info.firmware_version = "1.1.8";
  info.firmware_update = firmware;
  info.events = std::move(events);
  c.payload = ha::device_discovery(info, OPTS);
  c.state = model::state_from_dps(c.model, sample_dps(c.model));
  return c;
}

inline std::vector<Case> all_devices() {
  std::vector<Case> out;
  auto plug = device("bf0123456789abcdef01", "kitchen/plug", "cz");
  plug.product_id = "keyjup78v54myhan";
  plug.product_name = "Smart plug 16A";
  out.push_back(make(plug));
  out.push_back(make(device("bf11aa22bb33cc44dd55", "desk_bulb", "dj")));
  out.push_back(make(device("bf0000000000dimmer01", "hall_dimmer", "tgkg")));
  out.push_back(make(device("bf22cc33dd44ee55ff66", "living_curtain", "cl")));
  out.push_back(make(device("bf0000000000000fan01", "ceiling_fan", "fs")));
  out.push_back(make(device("bf000000000thermo001", "thermostat", "wk")));
  out.push_back(make(device("bf0000000000door0001", "front_door", "mcs"), false));
  out.push_back(make(device("bf0000000000smoke001", "smoke", "ywbj"), false));
  out.push_back(make(device("bf00000000000strip01", "strip", "pc")));
  auto sub = device("bf34gw07sub0000th02", "zigbee_th", "wsdcg");
  sub.cid = "a4c138000000th02";
  sub.parent = "bf34gateway000000007";
  sub.local_key.clear();
  out.push_back(make(sub, false));
  auto scene = device("bf00000000scenesw001", "scene_switch", "wxkg");
  scene.mapping = json::parse(R"({
    "1": {"code": "switch1_value", "type": "Enum", "mode": "ro", "values": {"range": ["single_click", "double_click", "long_press"]}},
    "2": {"code": "switch2_value", "type": "Enum", "mode": "ro", "values": {"range": ["single_click", "double_click", "long_press"]}},
    "10": {"code": "battery_percentage", "type": "Integer", "values": {"unit": "%", "min": 0, "max": 100, "scale": 0, "step": 1}},
    "20": {"code": "display_text", "type": "String", "values": {"maxlen": 300}}
  })");
  out.push_back(make(scene, false, {ha::EventEntity{"scene", "Scene", {"Good night", "Movie"}, ""}}));
  return out;
}

inline const json& comp(const json& payload, const std::string& key) {
  REQUIRE_MESSAGE(payload["components"].contains(key), key);
  return payload["components"][key];
}

// ---- a tiny renderer for the template shapes the discovery module writes ---------------------------
// Supports {% if <a> is defined [and <b> is defined] %}...{% endif %} and {{ expr }} with
//   expr := cond ['|' 'to_json']
//   cond := atom ['==' atom] ['if' atom '==' atom 'else' atom]   (only the shapes we generate)
//   atom := 'str' | number | true | false | var | value_json['k'] | [list][var - 1] | {'k': n, ...}[atom]
// Unsupported input gives nullopt: the caller then only checks which keys are read.
struct Renderer {
  json vars = json::object();  // variables; "value_json" holds the state
  bool ok = true;

  std::string src;
  size_t pos = 0;

  void ws() {
    while (pos < src.size() && src[pos] == ' ') ++pos;
  }
  bool eat(std::string_view t) {
    ws();
    if (src.compare(pos, t.size(), t) == 0) {
      pos += t.size();
      return true;
    }
    return false;
  }
  std::string ident() {
    ws();
    size_t s = pos;
    while (pos < src.size() && (std::isalnum(static_cast<unsigned char>(src[pos])) || src[pos] == '_')) ++pos;
    return src.substr(s, pos - s);
  }
  std::string str() {  // after the opening quote
    std::string out;
    while (pos < src.size() && src[pos] != '\'') {
      if (src[pos] == '\\') ++pos;
      out += src[pos++];
    }
    ++pos;
    return out;
  }
  json atom() {
    ws();
    if (eat("'")) return str();
    if (eat("[")) {
      json list = json::array();
      while (!eat("]")) {
        list.push_back(atom());
        eat(",");
      }
      if (eat("[")) {
        json i = atom();
        if (eat("-")) i = i.get<int>() - atom().get<int>();
        eat("]");
        return list.at(i.get<size_t>());
      }
      return list;
    }
    if (eat("{")) {
      json dict = json::object();
      while (!eat("}")) {
        std::string k = atom().get<std::string>();
        eat(":");
        dict[k] = atom();
        eat(",");
      }
      if (eat("[")) {
        json k = atom();
        eat("]");
        if (!k.is_string() || !dict.contains(k.get<std::string>())) {
          ok = false;
          return nullptr;
        }
        return dict[k.get<std::string>()];
      }
      return dict;
    }
    if (pos < src.size() && (std::isdigit(static_cast<unsigned char>(src[pos])) || src[pos] == '-')) {
      size_t s = pos;
      ++pos;
      while (pos < src.size() && (std::isdigit(static_cast<unsigned char>(src[pos])) || src[pos] == '.'))
        ++pos;
      return json::parse(src.substr(s, pos - s));
    }
    const std::string id = ident();
    if (id == "true") return true;
    if (id == "false") return false;
    if (id == "None") return nullptr;
    if (id.empty() || !vars.contains(id)) {
      ok = false;
      return nullptr;
    }
    json v = vars[id];
    while (eat("[")) {
      json k = atom();
      eat("]");
      if (!v.is_object() || !k.is_string() || !v.contains(k.get<std::string>())) {
        ok = false;
        return nullptr;
      }
      v = v[k.get<std::string>()];
    }
    return v;
  }
  json expr() {
    json a = atom();
    if (eat("==")) a = (a == atom());
    if (eat("if ")) {
      json l = atom();
      eat("==");
      json r = atom();
      eat("else");
      json b = atom();
      a = (l == r) ? a : b;
    }
    if (eat("|")) {
      if (ident() != "to_json") ok = false;
      a = a.dump();
    }
    return a;
  }
  bool defined(const std::string& cond) {  // "<var> is defined [and <var> is defined]" or value_json['k']
    Renderer sub;
    sub.vars = vars;
    bool all = true;
    size_t start = 0;
    while (start < cond.size()) {
      size_t end = cond.find(" and ", start);
      std::string part = cond.substr(start, end == std::string::npos ? std::string::npos : end - start);
      const size_t is = part.find(" is defined");
      if (is == std::string::npos) {
        ok = false;
        return false;
      }
      sub.src = part.substr(0, is);
      sub.pos = 0;
      sub.ok = true;
      (void)sub.atom();
      all = all && sub.ok;
      if (end == std::string::npos) break;
      start = end + 5;
    }
    return all;
  }
  std::optional<std::string> render(const std::string& tpl) {
    std::string out;
    size_t i = 0;
    std::vector<bool> emit{true};
    while (i < tpl.size()) {
      if (tpl.compare(i, 2, "{%") == 0) {
        size_t e = tpl.find("%}", i);
        std::string tag = tpl.substr(i + 2, e - i - 2);
        while (!tag.empty() && tag.front() == ' ') tag.erase(tag.begin());
        while (!tag.empty() && tag.back() == ' ') tag.pop_back();
        if (tag.rfind("if ", 0) == 0 && tag.find(" is defined") != std::string::npos) {
          emit.push_back(emit.back() && defined(tag.substr(3)));
        } else if (tag.rfind("if ", 0) == 0) {
          src = tag.substr(3);
          pos = 0;
          const json v = expr();
          if (!ok) return std::nullopt;
          emit.push_back(emit.back() && v.is_boolean() && v.get<bool>());
        } else if (tag == "endif") {
          emit.pop_back();
        } else {
          return std::nullopt;
        }
        i = e + 2;
      } else if (tpl.compare(i, 2, "{{") == 0) {
        size_t e = tpl.find("}}", i);
        if (emit.back()) {
          src = tpl.substr(i + 2, e - i - 2);
          pos = 0;
          json v = expr();
          ws();
          if (!ok || pos != src.size()) return std::nullopt;
          out += v.is_string() ? v.get<std::string>() : v.dump();
        }
        i = e + 2;
      } else {
        if (emit.back()) out += tpl[i];
        ++i;
      }
    }
    return out;
  }
};

inline std::optional<std::string> render(const std::string& tpl, json vars) {
  Renderer r;
  r.vars = std::move(vars);
  return r.render(tpl);
}

// What the gateway does with a message HA publishes: the DPs it would write.
inline json gateway_dps(const Case& c, const std::string& topic, const std::string& payload) {
  const Topics topics(OPTS.base_topic);
  auto parsed = topics.parse(topic);
  REQUIRE_MESSAGE(parsed.ok(), topic);
  REQUIRE(parsed->name == c.cfg.display_name());
  Result<json> dps = json();
  if (parsed->kind == TopicKind::SET) {
    auto cmd = parse_set_payload(payload);
    REQUIRE_MESSAGE(cmd.ok(), payload);
    dps = model::command_to_dps(c.model, cmd.value(), sample_dps(c.model));
  } else {
    REQUIRE(parsed->kind == TopicKind::SET_ATTR);
    auto v = parse_bare_value(payload);
    REQUIRE(v.ok());
    dps = model::command_to_dps(c.model, json{{parsed->attribute, v.value()}}, sample_dps(c.model));
  }
  REQUIRE_MESSAGE(dps.ok(), payload << ": " << (dps.ok() ? "" : dps.error().message));
  return dps.value();
}

// Renders a command template for `vars` and runs it through the gateway.
inline json command(const Case& c, const json& component, const std::string& topic_key,
                    const std::string& template_key, const json& vars) {
  const std::string tpl = component.value(template_key, std::string());
  REQUIRE_MESSAGE(!tpl.empty(), template_key);
  auto payload = render(tpl, vars);
  REQUIRE_MESSAGE(payload.has_value(), tpl);
  REQUIRE_MESSAGE(!json::parse(*payload, nullptr, false).is_discarded(), *payload);
  return gateway_dps(c, component[topic_key].get<std::string>(), *payload);
}

}  // namespace t2m::mqtt::ha_testing
