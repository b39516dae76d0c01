// DP value conversion with random specifications (protocol/dps.h). Input: a spec entry JSON
// ({"type":..,"values":..}) on the first line, a value JSON (or bare text) after it.
// Properties: no crash/UB/leak/exception; a spec survives spec_values_to_json -> parse_dp_spec; a value
// accepted for writing converts back for reading.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "protocol/dps.h"

using namespace t2m;
using namespace t2m::proto;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t nl = text.find('\n');
  const std::string_view spec_text = text.substr(0, nl);
  const std::string_view value_text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);

  json entry = json::parse(spec_text, nullptr, false);
  if (entry.is_discarded()) return 0;
  json value = json::parse(value_text, nullptr, false);
  if (value.is_discarded()) {
    // Raw text need not be UTF-8: the converters must refuse such a string, never throw.
    value = std::string(value_text);
  }

  (void)parse_bool(value);
  if (value.is_string()) (void)is_base64(value.get_ref<const std::string&>());
  if (entry.is_string()) (void)parse_dp_type(entry.get_ref<const std::string&>());

  auto spec = parse_dp_spec(entry);
  if (!spec.ok()) return 0;
  (void)describe(*spec);
  (void)scale_factor(spec->scale);

  // The saved form of a spec reads back as the same spec.
  const json saved = spec_values_to_json(*spec);
  auto again = parse_dp_spec(to_string(spec->type), saved);
  T2M_FUZZ_CHECK(again.ok());
  T2M_FUZZ_CHECK(*again == *spec);

  (void)wire_to_value(*spec, "fuzz", value);
  for (auto policy : {StepPolicy::SNAP, StepPolicy::STRICT}) {
    auto wire = value_to_wire(*spec, "fuzz", value, policy);
    if (!wire.ok()) {
      T2M_FUZZ_CHECK(!wire.error().code.empty());
      continue;
    }
    // What we write, we can read.
    T2M_FUZZ_CHECK(wire_to_value(*spec, "fuzz", *wire).ok());
    (void)dump_lossy(*wire);  // as the payload builders write it
  }
  return 0;
}
