// Internal: the entity grouping rules of derive_model (derived_model.h, part 2). Kept apart from the DP
// descriptions so that each side can be read (and changed) on its own. Not part of the public API.
#pragma once

#include "config/config.h"
#include "model/derived_model.h"

namespace t2m::model::detail {

// Fills model.entities from model.dps, which must already hold every DP description (all sources
// merged): per-DP "component" overrides first, then the light, cover, fan, climate, binary sensor and
// sensor rules, then generic entities for what is left; finally the main entity and the state keys.
void derive_entities(DerivedModel& model, const config::DeviceConfig& device);

}  // namespace t2m::model::detail
