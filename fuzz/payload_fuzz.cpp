// Device/client JSON -> parse_report / parse_control / parse_updatedps. Properties: never throws or
// crashes; a parsed control request rebuilt for any version parses back to the same DPs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "protocol/message.h"
#include "protocol/payload.h"

using namespace t2m;
using namespace t2m::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)classify_payload(text);
  (void)is_device22_error(text);
  (void)parse_json(text);
  (void)parse_updatedps(text);
  if (auto r = parse_report(text)) {
    T2M_FUZZ_CHECK(r->dps.is_object());
  }
  auto c = parse_control(text);
  if (!c) return 0;
  const Target target{c->dev_id.value_or("dev"), c->cid};
  for (auto ver : {Version::V3_3, Version::V3_4}) {
    auto back = parse_control(build_control(ver, target, 1700000000, c->dps));
    T2M_FUZZ_CHECK(back.ok());
    // Invalid UTF-8 in keys/strings is replaced when re-serialised; compare sizes then.
    T2M_FUZZ_CHECK(back->dps.size() == c->dps.size());
    auto report = parse_report(build_report(ver, target, 1700000000, c->dps));
    T2M_FUZZ_CHECK(report.ok());
    T2M_FUZZ_CHECK(report->dps.size() == c->dps.size());
  }
  return 0;
}
