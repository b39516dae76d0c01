// 55AA (3.1-3.4) and 6699 (3.5) frames: encoding, verification and an incremental stream splitter
// (docs/protocol.md §2). No knowledge of JSON or of what a command means.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "protocol/constants.h"
#include "protocol/errors.h"

namespace t2m::proto {

// Who wrote the frame. Device->client frames carry a return code (55AA: clear after the header;
// 6699: first 4 plaintext bytes); client->device frames do not.
enum class Direction { TO_DEVICE, FROM_DEVICE };

enum class Integrity { CRC32, HMAC_SHA256 };  // 55AA only; 6699 always uses the GCM tag

struct Frame {
  uint32_t seqno = 0;
  uint32_t cmd = 0;
  std::optional<uint32_t> retcode;  // present on device->client frames (and on discovery broadcasts)
  Bytes payload;  // 55AA: bytes between retcode and check (may be ciphertext); 6699: decrypted plaintext
                  // without the retcode
};

// 55AA: header + [retcode] + payload + CRC32|HMAC(key) + suffix. `hmac_key` is used only for HMAC.
Bytes encode_55aa(const Frame& f, Integrity integrity, ByteView hmac_key = {});
// Verifies and splits one complete 55AA frame: `frame` must be exactly the declared size (fewer bytes:
// TRUNCATED; more: BAD_SUFFIX). For FROM_DEVICE frames without a retcode (some stubs
// and odd devices), the §2.1 heuristic applies: a first word with any of its upper 24 bits set is payload.
PResult<Frame> decode_55aa(ByteView frame, Integrity integrity, ByteView hmac_key, Direction dir);

// 6699: header (AAD) + IV + GCM(key, [retcode] + payload) + tag + suffix. `key` must be 16 bytes and `iv`
// 12 bytes; otherwise the result is empty.
Bytes encode_6699(const Frame& f, ByteView key, ByteView iv);
// Verifies the tag and decrypts. For FROM_DEVICE the first 4 plaintext bytes are the retcode, unless the
// plaintext starts with '{' (senders that omit it).
PResult<Frame> decode_6699(ByteView frame, ByteView key, Direction dir);

// Splits a TCP byte stream into complete frames: frames split across reads, several in one read,
// garbage before a prefix (skipped), a declared length over the bound (rejected without allocating,
// then resynchronised past that prefix). Does not verify checks or decrypt.
class FrameSplitter {
 public:
  explicit FrameSplitter(uint32_t max_length = MAX_FRAME_LENGTH) : max_length_(max_length) {}

  void feed(ByteView data);
  // The next complete frame's bytes; nullopt when more input is needed. An error (OVERSIZE, BAD_SUFFIX,
  // or TRUNCATED for a declared length too small to hold the check/tag) is returned once and the
  // splitter has already resynchronised after it.
  std::optional<PResult<Bytes>> next();
  void reset();

  size_t buffered() const;
  uint64_t skipped_bytes() const { return skipped_bytes_; }  // garbage dropped while resynchronising

 private:
  uint32_t max_length_;
  Bytes buf_;
  size_t start_ = 0;  // consumed prefix of buf_, compacted lazily
  uint64_t skipped_bytes_ = 0;
};

// Reads the big-endian fields of a header without verifying anything (for logs and demultiplexing).
struct FramePeek {
  bool is_6699 = false;
  uint32_t seqno = 0;
  uint32_t cmd = 0;
  uint32_t length = 0;
};
std::optional<FramePeek> peek_header(ByteView data);

}  // namespace t2m::proto
