// Built-in DP templates for common Tuya categories (pure data).
//
// A template lists the DPs a device of that category usually has, with Tuya's standard codes and specs
// (the same form as a cloud specification). It is the lowest-precedence source of DP descriptions: the
// cloud mapping saved in the device list and the user's per-DP overrides win over it. Codes follow Tuya's
// standard instruction sets, so the entity rules in entity_rules.cpp recognise them the same way as codes that
// come from the cloud.
//
// Lights exist in two layouts: v1 (DPs 1-5: switch_led, work_mode, bright_value 25-255, temp_value 0-255,
// colour_data 14 hex chars) and v2 (DPs 20-26: switch_led, work_mode, bright_value_v2 10-1000,
// temp_value_v2 0-1000, colour_data_v2 12 hex chars / JSON hsv, scene_data_v2, countdown). Category "dj"
// picks the layout from the DPs the device reports (DP 20 => v2, DP 1 without DP 20 => v1; v2 when
// nothing was reported yet); "dj_v1" / "dj_v2" force one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace t2m::model {

struct TemplateDp {
  int id = 0;
  std::string code;
  std::string type;       // Tuya type name: Boolean, Integer, Enum, String, Json, Raw, Bitmap
  nlohmann::json values;  // spec values object, as in a cloud specification
  bool read_only = false;
};

struct CategoryTemplate {
  std::string category;     // "cz", "dj_v2", ...
  std::string description;  // "Smart plug with energy metering"
  std::vector<TemplateDp> dps;
};

// Finds the template for a category code (case-insensitive). For light categories (dj, dd, fwd, dc, xdd,
// tgq with colour...) `reported_dps` (a wire `dps` object, or null) picks the v1/v2 layout.
const CategoryTemplate* find_template(std::string_view category,
                                      const nlohmann::json& reported_dps = nullptr);

// All built-in templates (for documentation and tests).
const std::vector<CategoryTemplate>& all_templates();

}  // namespace t2m::model
