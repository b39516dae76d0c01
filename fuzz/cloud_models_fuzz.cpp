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

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)normalize_mac(text);
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;

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
