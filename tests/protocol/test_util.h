// Small helpers shared by the protocol tests.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "protocol/errors.h"

namespace t2m::proto::testing {

inline Bytes H(std::string_view hex) {
  return hex_literal(hex);
}
inline Bytes B(std::string_view text) {
  return to_bytes(text);
}
inline std::string hex(ByteView b) {
  return to_hex(b);
}
inline std::string str(ByteView b) {
  return std::string(as_chars(b));
}

template <class R>
ErrorCode code_of(const R& r) {
  return r.ok() ? static_cast<ErrorCode>(-1) : r.error().code;
}

}  // namespace t2m::proto::testing
