#include "tests/sim/src/model.h"

#include <algorithm>
#include <array>
#include <span>

namespace t2m::sim {

namespace {

using nlohmann::json;

// Plug measurement bounds (raw wire units): 225.0-245.0 V, a drift of at most 0.5 V per sample.
constexpr int64_t VOLTAGE_MIN = 2250;
constexpr int64_t VOLTAGE_MAX = 2450;
constexpr int64_t VOLTAGE_STEP = 5;
// Power wanders within +-5 % of the nominal load.
constexpr int64_t POWER_JITTER_PERCENT = 5;
// Sensor: temperature drifts by at most 0.2 degrees per sample and stays within +-10 degrees of its start.
constexpr int64_t TEMP_STEP = 2;
constexpr int64_t TEMP_SPAN = 100;
constexpr int64_t HUMIDITY_STEP = 1;
// One sample in this many takes a battery percent away.
constexpr int64_t BATTERY_DRAIN_ODDS = 50;

struct Rule {
  const char* id;
  int64_t min;
  int64_t max;
  std::array<const char*, 5> enums;  // a null or empty entry ends the list
};

// Value ranges a real device enforces; DPs without a rule accept any value of the right type.
constexpr Rule PLUG_RULES[] = {
    {"9", 0, 86400, {}},
};
constexpr Rule BULB_RULES[] = {
    {"21", 0, 0, {"white", "colour", "scene", "music", ""}},
    {"22", 10, 1000, {}},
    {"23", 0, 1000, {}},
    {"26", 0, 86400, {}},
};
constexpr Rule CURTAIN_RULES[] = {
    {"1", 0, 0, {"open", "stop", "close", "continue", ""}},
    {"2", 0, 100, {}},
    {"5", 0, 0, {"forward", "back", "", "", ""}},
};
constexpr Rule SENSOR_RULES[] = {
    {"9", 0, 0, {"c", "f", "", "", ""}},
};
constexpr Rule SWITCH_RULES[] = {
    {"7", 0, 86400, {}},
};

std::span<const Rule> rules_for(Profile p) {
  switch (p) {
    case Profile::PLUG:
      return PLUG_RULES;
    case Profile::BULB:
      return BULB_RULES;
    case Profile::CURTAIN:
      return CURTAIN_RULES;
    case Profile::SENSOR:
      return SENSOR_RULES;
    case Profile::SWITCH:
      return SWITCH_RULES;
    case Profile::GATEWAY:
      return {};
  }
  return {};
}

// DPs a client may not write: measurements and read-only states.
bool read_only(Profile p, const std::string& id) {
  switch (p) {
    case Profile::PLUG:
      return id == "17" || id == "18" || id == "19" || id == "20";
    case Profile::CURTAIN:
      return id == "3" || id == "7";
    case Profile::SENSOR:
      return id == "1" || id == "2" || id == "4";
    default:
      return false;
  }
}

json initial_dps(Profile p) {
  switch (p) {
    case Profile::PLUG:
      return json{{"1", true}, {"9", 0}, {"17", 12}, {"18", 261}, {"19", 600}, {"20", 2300}};
    case Profile::BULB:
      return json{{"20", true}, {"21", "white"},        {"22", 1000},
                  {"23", 500},  {"24", "000003e803e8"}, {"25", "000e0d0000000000000000c80000"},
                  {"26", 0}};
    case Profile::CURTAIN:
      return json{{"1", "stop"}, {"2", 0}, {"3", 0}, {"5", "forward"}, {"7", "closing"}};
    case Profile::SENSOR:
      return json{{"1", 215}, {"2", 45}, {"4", 90}, {"9", "c"}};
    case Profile::SWITCH:
      return json{{"1", false}, {"7", 0}};
    case Profile::GATEWAY:
      return json::object();
  }
  return json::object();
}

// The countdown DP and the switch it toggles, per profile.
struct CountdownDps {
  const char* countdown;
  const char* power;
};
std::optional<CountdownDps> countdown_dps(Profile p) {
  switch (p) {
    case Profile::PLUG:
      return CountdownDps{"9", "1"};
    case Profile::BULB:
      return CountdownDps{"26", "20"};
    case Profile::SWITCH:
      return CountdownDps{"7", "1"};
    default:
      return std::nullopt;
  }
}

bool same_kind(const json& a, const json& b) {
  if (a.is_boolean()) return b.is_boolean();
  if (a.is_number_integer()) return b.is_number_integer();
  if (a.is_string()) return b.is_string();
  return a.type() == b.type();
}

int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return std::min(std::max(v, lo), hi);
}

}  // namespace

std::optional<Profile> parse_profile(std::string_view name) {
  if (name == "plug") return Profile::PLUG;
  if (name == "bulb") return Profile::BULB;
  if (name == "curtain") return Profile::CURTAIN;
  if (name == "sensor") return Profile::SENSOR;
  if (name == "switch") return Profile::SWITCH;
  if (name == "gateway") return Profile::GATEWAY;
  return std::nullopt;
}

std::string_view to_string(Profile p) {
  switch (p) {
    case Profile::PLUG:
      return "plug";
    case Profile::BULB:
      return "bulb";
    case Profile::CURTAIN:
      return "curtain";
    case Profile::SENSOR:
      return "sensor";
    case Profile::SWITCH:
      return "switch";
    case Profile::GATEWAY:
      return "gateway";
  }
  return "?";
}

uint64_t Rng::next() {
  uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int64_t Rng::range(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(next() % span);
}

DpModel::DpModel(Profile profile, const nlohmann::json& overrides, uint64_t seed)
    : profile_(profile), initial_(initial_dps(profile)), rng_(seed) {
  if (overrides.is_object()) {
    for (const auto& [k, v] : overrides.items()) initial_[k] = v;
  }
  reset();
}

void DpModel::reset() {
  state_ = initial_;
  target_.reset();
  if (profile_ == Profile::PLUG) {
    nominal_power_ =
        state_.contains("19") && state_["19"].is_number_integer() ? state_["19"].get<int64_t>() : 0;
  }
}

json DpModel::subset(const std::vector<std::string>& ids) const {
  if (ids.empty()) return state_;
  json out = json::object();
  for (const auto& id : ids) {
    if (state_.contains(id)) out[id] = state_.at(id);
  }
  return out;
}

bool DpModel::accepts(const std::string& id, const json& value) const {
  if (!state_.contains(id) || read_only(profile_, id) || !same_kind(state_.at(id), value)) return false;
  for (const Rule& r : rules_for(profile_)) {
    if (id != r.id) continue;
    if (r.enums[0] != nullptr && r.enums[0][0] != '\0') {
      if (!value.is_string()) return false;
      const auto& s = value.get_ref<const std::string&>();
      return std::any_of(r.enums.begin(), r.enums.end(),
                         [&](const char* e) { return e != nullptr && e[0] != '\0' && s == e; });
    }
    if (value.is_number_integer()) {
      int64_t v = value.get<int64_t>();
      return v >= r.min && v <= r.max;
    }
  }
  return true;
}

json DpModel::apply_write(const json& dps) {
  json accepted = json::object();
  if (!dps.is_object()) return accepted;
  for (const auto& [id, value] : dps.items()) {
    if (value.is_null() || !accepts(id, value)) continue;
    state_[id] = value;
    accepted[id] = value;
  }
  if (profile_ == Profile::CURTAIN) {
    int pos = state_.value("3", 0);
    std::optional<int> target;
    if (accepted.contains("1")) {
      const std::string cmd = accepted["1"].get<std::string>();
      if (cmd == "open") target = 100;
      if (cmd == "close") target = 0;
      if (cmd == "stop") target_.reset();
    }
    if (accepted.contains("2")) target = accepted["2"].get<int>();
    if (target && *target != pos) {
      target_ = target;
      state_["7"] = *target > pos ? "opening" : "closing";
      accepted["7"] = state_["7"];
    }
  }
  return accepted;
}

json DpModel::force(const json& dps) {
  json changed = json::object();
  if (!dps.is_object()) return changed;
  for (const auto& [id, value] : dps.items()) {
    if (state_.contains(id) && state_[id] == value) continue;
    state_[id] = value;
    changed[id] = value;
    if (profile_ == Profile::PLUG && id == "19" && value.is_number_integer())
      nominal_power_ = value.get<int64_t>();
  }
  return changed;
}

void DpModel::resample_measurements() {
  switch (profile_) {
    case Profile::PLUG: {
      int64_t v = state_.value("20", int64_t{2300});
      v = clamp64(v + rng_.range(-VOLTAGE_STEP, VOLTAGE_STEP), VOLTAGE_MIN, VOLTAGE_MAX);
      bool on = state_.value("1", false);
      int64_t p = 0;
      if (on && nominal_power_ > 0) {
        int64_t jitter = nominal_power_ * POWER_JITTER_PERCENT / 100;
        p = std::max<int64_t>(0, nominal_power_ + rng_.range(-jitter, jitter));
      }
      // mA = W / V * 1000 with both in tenths.
      int64_t ma = v > 0 ? p * 1000 / v : 0;
      if (state_.contains("20")) state_["20"] = v;
      if (state_.contains("19")) state_["19"] = p;
      if (state_.contains("18")) state_["18"] = ma;
      if (p > 0 && state_.contains("17") && state_["17"].is_number_integer()) {
        state_["17"] = state_["17"].get<int64_t>() + 1;
      }
      break;
    }
    case Profile::SENSOR: {
      int64_t base = initial_.value("1", int64_t{215});
      if (state_.contains("1") && state_["1"].is_number_integer()) {
        int64_t t = state_["1"].get<int64_t>() + rng_.range(-TEMP_STEP, TEMP_STEP);
        state_["1"] = clamp64(t, base - TEMP_SPAN, base + TEMP_SPAN);
      }
      if (state_.contains("2") && state_["2"].is_number_integer()) {
        state_["2"] = clamp64(state_["2"].get<int64_t>() + rng_.range(-HUMIDITY_STEP, HUMIDITY_STEP), 0, 100);
      }
      if (state_.contains("4") && state_["4"].is_number_integer() && rng_.range(1, BATTERY_DRAIN_ODDS) == 1) {
        state_["4"] = std::max<int64_t>(0, state_["4"].get<int64_t>() - 1);
      }
      break;
    }
    default:
      break;
  }
}

json DpModel::resample(const std::vector<int>& ids) {
  resample_measurements();
  json out = json::object();
  for (int id : ids) {
    auto key = std::to_string(id);
    if (state_.contains(key)) out[key] = state_[key];
  }
  return out;
}

json DpModel::drift() {
  json before = state_;
  resample_measurements();
  json changed = json::object();
  for (const auto& [id, value] : state_.items()) {
    if (!before.contains(id) || before[id] != value) changed[id] = value;
  }
  return changed;
}

std::optional<uint32_t> DpModel::countdown_armed(const json& accepted) const {
  auto dps = countdown_dps(profile_);
  if (!dps || !accepted.contains(dps->countdown) || !accepted[dps->countdown].is_number_integer())
    return std::nullopt;
  int64_t s = accepted[dps->countdown].get<int64_t>();
  return s <= 0 ? 0 : static_cast<uint32_t>(s);
}

json DpModel::countdown_expired() {
  json changed = json::object();
  auto dps = countdown_dps(profile_);
  if (!dps || !state_.contains(dps->countdown) || state_[dps->countdown] == 0) return changed;
  state_[dps->countdown] = 0;
  changed[dps->countdown] = 0;
  if (state_.contains(dps->power) && state_[dps->power].is_boolean()) {
    state_[dps->power] = !state_[dps->power].get<bool>();
    changed[dps->power] = state_[dps->power];
  }
  return changed;
}

json DpModel::step_motion(int percent) {
  json changed = json::object();
  if (!target_) return changed;
  int pos = state_.value("3", 0);
  int t = *target_;
  pos = t > pos ? std::min(t, pos + percent) : std::max(t, pos - percent);
  state_["3"] = pos;
  changed["3"] = pos;
  if (pos == t) {
    target_.reset();
    state_["1"] = "stop";
    changed["1"] = "stop";
  }
  return changed;
}

}  // namespace t2m::sim
