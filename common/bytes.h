// Byte buffers and hex helpers shared by every layer.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace t2m {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view as_chars(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}
inline Bytes to_bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

std::string to_hex(ByteView data, bool upper = false);
// Returns false on odd length or a non-hex character; `out` is then unspecified.
bool from_hex(std::string_view hex, Bytes& out);
// For tests and constants: aborts on malformed input, so only use with literals.
Bytes hex_literal(std::string_view hex);

}  // namespace t2m
