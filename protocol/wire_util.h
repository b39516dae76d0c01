// Internal helpers of the codec (big-endian integers, appending). Not part of the public API.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/bytes.h"

namespace t2m::proto::detail {

inline void put_u32(Bytes& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

inline void put_u16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// `p` must point at 4 readable bytes.
inline uint32_t get_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline void append(Bytes& out, ByteView data) {
  out.insert(out.end(), data.begin(), data.end());
}
inline void append(Bytes& out, std::string_view text) {
  append(out, as_bytes(text));
}

// "3." followed by a digit: the start of a 15-byte version/source header.
inline bool starts_with_version(ByteView data) {
  return data.size() >= 3 && data[0] == '3' && data[1] == '.' && data[2] >= '0' && data[2] <= '9';
}

}  // namespace t2m::proto::detail
