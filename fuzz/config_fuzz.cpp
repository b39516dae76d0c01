// The configuration loader: arbitrary JSON text through config::parse_config, as the config document and
// as a tinytuya device list. Properties: no crash/UB/leak/exception; every refusal names at least one
// issue; a config that parses serialises (to_json) to a document that parses again with the same devices.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "fuzz/fuzz_check.h"
#include "model/derived_model.h"

using namespace t2m;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return 0;

  (void)config::parse_duration(doc);
  config::ConfigWarnings warnings;
  auto cfg = config::parse_config(doc, nullptr, &warnings);
  if (!cfg.ok()) {
    T2M_FUZZ_CHECK(!cfg.error().empty());
  } else {
    T2M_FUZZ_CHECK(config::validate(*cfg).empty());
    const json saved = config::to_json(*cfg);
    auto again = config::parse_config(saved);
    T2M_FUZZ_CHECK(again.ok());
    T2M_FUZZ_CHECK(again->devices.size() == cfg->devices.size());
    for (size_t i = 0; i < cfg->devices.size(); ++i) {
      T2M_FUZZ_CHECK(again->devices[i].id == cfg->devices[i].id);
      T2M_FUZZ_CHECK(again->devices[i].local_key == cfg->devices[i].local_key);
      (void)model::derive_model(cfg->devices[i]);
    }
  }
  // The same text as a tinytuya devices.json beside a minimal config.
  const json minimal = json::parse(R"({"mqtt":{"server":"mqtt://127.0.0.1:1883"}})");
  auto listed = config::parse_config(minimal, doc);
  if (listed.ok()) {
    for (const auto& d : listed->devices) (void)model::derive_model(d);
  }
  if (doc.is_object()) (void)config::parse_device(doc);
  return 0;
}
