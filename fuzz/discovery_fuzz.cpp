// UDP datagrams -> decode_discovery. Property: no crash/UB/leak; a decoded announcement re-encodes
// (3.3 broadcast) and decodes to the same JSON.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.h"
#include "protocol/discovery.h"

using namespace t2m;
using namespace t2m::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto a = decode_discovery(ByteView(data, size));
  if (!a) return 0;
  auto again = decode_discovery(encode_broadcast(Version::V3_3, a->raw));
  T2M_FUZZ_CHECK(again.ok());
  T2M_FUZZ_CHECK(again->raw == a->raw);
  T2M_FUZZ_CHECK(again->gw_id == a->gw_id);
  return 0;
}
