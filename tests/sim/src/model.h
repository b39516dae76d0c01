// The data-point model of one simulated Tuya (sub-)device: its DP profile, its current state, and how it
// reacts to writes, to re-sampling (UPDATEDPS), to time (power drift, curtain travel) and to a reboot.
// Pure: no sockets, no clock; the caller supplies time and the randomness comes from a seeded PRNG so
// tests are deterministic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace t2m::sim {

// The DP layouts the simulator knows (docs/protocol.md §8 and the usual Tuya category layouts).
enum class Profile : uint8_t {
  PLUG,     // "cz" metering plug: 1 switch, 9 countdown, 17 add_ele, 18 cur_current mA, 19 cur_power W*10,
            // 20 cur_voltage V*10
  BULB,     // RGB+CCT v2: 20 switch_led, 21 work_mode, 22 bright_value_v2 10-1000, 23 temp_value_v2 0-1000,
            // 24 colour_data_v2 (hhhhssssvvvv hex), 25 scene_data, 26 countdown
  CURTAIN,  // 1 control open/stop/close, 2 percent_control, 3 percent_state, 5 control_back_mode,
            // 7 work_state opening/closing
  SENSOR,   // battery T/H: 1 va_temperature (scale 1), 2 va_humidity, 4 battery_percentage, 9
            // temp_unit_convert
  SWITCH,   // a one-gang switch (typical Zigbee sub-device): 1 switch_1, 7 countdown_1
  GATEWAY,  // a Zigbee gateway: no DPs of its own, sub-devices addressed by cid
};

std::optional<Profile> parse_profile(std::string_view name);
std::string_view to_string(Profile p);

// Small, fast, seedable PRNG (splitmix64): per-device randomness without per-device engines.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0x9E3779B97F4A7C15ULL) : s_(seed) {}
  uint64_t next();
  // Uniform integer in [lo, hi].
  int64_t range(int64_t lo, int64_t hi);

 private:
  uint64_t s_;
};

class DpModel {
 public:
  // `overrides` (DP id string -> wire value) replaces or adds initial values.
  DpModel(Profile profile, const nlohmann::json& overrides, uint64_t seed);

  Profile profile() const { return profile_; }
  const nlohmann::json& dps() const { return state_; }
  // The listed DPs that exist ({"1":..}); every DP when `ids` is empty.
  nlohmann::json subset(const std::vector<std::string>& ids) const;

  // A client's CONTROL: applies every DP the device has and whose value has the right type and range
  // (real devices silently ignore the rest). Returns the accepted DPs with their new values; devices
  // echo written DPs even when the value did not change.
  nlohmann::json apply_write(const nlohmann::json& dps);
  // The control channel / a physical button: sets any DP (unknown ids are added). Returns what changed.
  nlohmann::json force(const nlohmann::json& dps);
  // UPDATEDPS: re-samples the listed DPs (measurements drift a little) and returns the listed DPs that
  // exist with their fresh values.
  nlohmann::json resample(const std::vector<int>& ids);
  // A spontaneous change (power reading drift, temperature change). Returns the changed DPs (may be {}).
  nlohmann::json drift();
  // Curtain travel: true while the motor runs. step() advances by `percent` points and returns the DPs
  // that changed (percent_state, and control/work_state when the motor stops).
  bool moving() const { return target_.has_value(); }
  nlohmann::json step_motion(int percent);
  // Countdown timers (plug 9, bulb 26, switch 7): after a write, the seconds a countdown was armed for
  // (0 when it was cancelled, nullopt when the write did not touch it). When it runs out, countdown_expired()
  // toggles the switch, zeroes the countdown and returns both.
  std::optional<uint32_t> countdown_armed(const nlohmann::json& accepted) const;
  nlohmann::json countdown_expired();
  // Reboot: state back to the initial values, motion stopped.
  void reset();

 private:
  void resample_measurements();
  bool accepts(const std::string& id, const nlohmann::json& value) const;

  Profile profile_;
  nlohmann::json initial_;
  nlohmann::json state_;
  Rng rng_;
  int64_t nominal_power_ = 0;  // plug: power drawn when on (W*10)
  std::optional<int> target_;  // curtain: travel target while moving
};

}  // namespace t2m::sim
