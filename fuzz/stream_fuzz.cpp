// TCP byte stream -> FrameSplitter -> every version's MessageCodec in both roles, plus the handshakes.
// Properties: no crash/UB/leak, the splitter never buffers more than one maximal frame plus one read,
// every frame it returns has a valid header and the length it declares.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.h"
#include "protocol/frame.h"
#include "protocol/message.h"
#include "protocol/session.h"

using namespace t2m;
using namespace t2m::proto;

namespace {

const Bytes LOCAL_KEY = to_bytes("0123456789abcdef");
const Bytes SESSION_KEY_34 = hex_literal("6575cf6b37479d9215337ff9767fe786");
const Bytes SESSION_KEY_35 = hex_literal("34165bab783422860c0c23b2d48cf7a5");
const Bytes NONCE = to_bytes("0123456789abcdef");
const Bytes IV = to_bytes("fuzzfuzzfuzz");
constexpr size_t MAX_BUFFER = HEADER_SIZE_6699 + MAX_FRAME_LENGTH + SUFFIX_SIZE;

void decode_everywhere(ByteView frame) {
  for (auto ver : {Version::V3_1, Version::V3_2, Version::V3_3, Version::V3_4, Version::V3_5}) {
    for (auto role : {Role::CLIENT, Role::DEVICE}) {
      MessageCodec plain(role, ver, LOCAL_KEY, ver == Version::V3_3);
      (void)plain.decode(frame);
      if (needs_session_key(ver)) {
        MessageCodec keyed(role, ver, LOCAL_KEY);
        keyed.set_session_key(ver == Version::V3_4 ? SESSION_KEY_34 : SESSION_KEY_35);
        (void)keyed.decode(frame);
        ClientHandshake client(ver, LOCAL_KEY, NONCE);
        if (client.start(1, IV)) (void)client.on_response(frame, 2, IV);
        DeviceHandshake device(ver, LOCAL_KEY, NONCE);
        (void)device.on_start(frame, 1, IV);
        (void)device.on_finish(frame);
      }
    }
  }
}

// Random bytes almost never carry a valid CRC/HMAC/tag, so the layers behind the check would only see the
// seed corpus. Re-sign each cut frame with every key the decoders use so those layers get fuzzed too.
void decode_resigned(ByteView frame) {
  auto peek = peek_header(frame);
  if (!peek) return;
  if (!peek->is_6699) {
    const size_t body_end = frame.size() - SUFFIX_SIZE;
    for (size_t check : {CRC_SIZE, HMAC_SIZE}) {
      if (body_end < HEADER_SIZE_55AA + check) continue;
      Frame f;
      f.seqno = peek->seqno;
      f.cmd = peek->cmd;
      f.payload.assign(frame.begin() + HEADER_SIZE_55AA,
                       frame.begin() + static_cast<std::ptrdiff_t>(body_end - check));
      if (check == CRC_SIZE) {
        decode_everywhere(encode_55aa(f, Integrity::CRC32));
      } else {
        decode_everywhere(encode_55aa(f, Integrity::HMAC_SHA256, LOCAL_KEY));
        decode_everywhere(encode_55aa(f, Integrity::HMAC_SHA256, SESSION_KEY_34));
      }
    }
    return;
  }
  constexpr size_t IV_SIZE = 12;
  constexpr size_t TAG_SIZE = 16;
  if (frame.size() < HEADER_SIZE_6699 + IV_SIZE + TAG_SIZE + SUFFIX_SIZE) return;
  Frame f;
  f.seqno = peek->seqno;
  f.cmd = peek->cmd;
  f.payload.assign(frame.begin() + HEADER_SIZE_6699 + IV_SIZE,
                   frame.end() - static_cast<std::ptrdiff_t>(TAG_SIZE + SUFFIX_SIZE));
  decode_everywhere(encode_6699(f, LOCAL_KEY, IV));
  decode_everywhere(encode_6699(f, SESSION_KEY_35, IV));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the read size, so splits at every position get exercised.
  const size_t chunk = 1 + data[0] % 64;
  ByteView input(data + 1, size - 1);
  FrameSplitter splitter;
  size_t fed = 0;
  while (fed < input.size()) {
    const size_t n = std::min(chunk, input.size() - fed);
    splitter.feed(input.subspan(fed, n));
    fed += n;
    while (auto next = splitter.next()) {
      if (!next->ok()) continue;
      const Bytes& frame = next->value();
      auto peek = peek_header(frame);
      T2M_FUZZ_CHECK(peek.has_value());
      const size_t expected =
          peek->is_6699 ? HEADER_SIZE_6699 + peek->length + SUFFIX_SIZE : HEADER_SIZE_55AA + peek->length;
      T2M_FUZZ_CHECK(frame.size() == expected);
      decode_everywhere(frame);
      decode_resigned(frame);
    }
    T2M_FUZZ_CHECK(splitter.buffered() <= MAX_BUFFER + chunk);
  }
  // The raw input as one frame, too (decoders must cope with anything, not just split frames).
  decode_everywhere(input);
  return 0;
}
