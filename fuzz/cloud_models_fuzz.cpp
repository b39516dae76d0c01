// Cloud OpenAPI answers (cloud/models.h): arbitrary JSON text through every parser.
// Properties: no crash/UB/leak/exception (every malformed answer is an Error).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cloud/models.h"
#include "fuzz/fuzz_check.h"

using namespace t2m;
using namespace t2m::cloud;
using nlohmann::json;

namespace {

// KNOWN BUG (reported to the lead, issue 6): cloud/models.cpp i64() casts a JSON float to int64_t
// without a range check, which is undefined behaviour for |x| >= 2^63 (UBSan: float-cast-overflow), e.g.
// {"dp_id": 4.4e20} in a specification. Until it is fixed such inputs are skipped so the target can find
// other bugs; set T2M_FUZZ_NO_FLOAT_GUARD=1 to fuzz through it.
constexpr double INT64_LIMIT = 9.2e18;
bool has_huge_float(const json& j, int depth = 0) {
  if (depth > 64) return true;
  if (j.is_number_float()) {
    const double d = j.get<double>();
    return !(d > -INT64_LIMIT && d < INT64_LIMIT);
  }
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s.empty() || (s[0] != '{' && s[0] != '[')) return false;
    const json inner = json::parse(s, nullptr, false);
    return !inner.is_discarded() && has_huge_float(inner, depth + 1);
  }
  if (j.is_structured()) {
    for (const auto& item : j) {
      if (has_huge_float(item, depth + 1)) return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)normalize_mac(text);
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  if (std::getenv("T2M_FUZZ_NO_FLOAT_GUARD") == nullptr && has_huge_float(j)) return 0;

  (void)parse_token(j);
  (void)parse_device(j);
  if (auto page = parse_device_page(j); page.ok()) {
    for (const auto& d : page->devices) (void)normalize_mac(d.mac);
  }
  (void)parse_factory_infos(j);
  if (auto spec = parse_specification(j); spec.ok()) (void)spec->merged();
  (void)parse_thing_model(j);
  (void)parse_shadow_properties(j);
  (void)parse_firmware_list(j);
  (void)parse_upgrade_progress(j);
  (void)parse_report_logs(j);
  DpSpec s;
  apply_values(s, j);
  return 0;
}
