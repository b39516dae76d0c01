#include "protocol/frame.h"

#include <algorithm>
#include <array>
#include <string>

#include "protocol/crypto.h"
#include "protocol/wire_util.h"

namespace t2m::proto {

using detail::append;
using detail::get_u32;
using detail::put_u16;
using detail::put_u32;

namespace {

constexpr std::array<uint8_t, 4> PREFIX_55AA_BYTES = {0x00, 0x00, 0x55, 0xAA};
constexpr std::array<uint8_t, 4> PREFIX_6699_BYTES = {0x00, 0x00, 0x66, 0x99};
constexpr size_t PREFIX_SIZE = 4;
// Field offsets in the headers (docs/protocol.md §2.1, §2.2).
constexpr size_t SEQNO_OFFSET_55AA = 4;
constexpr size_t CMD_OFFSET_55AA = 8;
constexpr size_t LENGTH_OFFSET_55AA = 12;
constexpr size_t SEQNO_OFFSET_6699 = 6;  // after the reserved u16
constexpr size_t CMD_OFFSET_6699 = 10;
constexpr size_t LENGTH_OFFSET_6699 = 14;
constexpr size_t AAD_OFFSET_6699 = 4;  // the AAD is the header after the prefix
constexpr size_t AAD_SIZE_6699 = HEADER_SIZE_6699 - AAD_OFFSET_6699;
// The smallest `length` each frame kind can declare: check + suffix (55AA), IV + tag (6699).
constexpr uint32_t MIN_LENGTH_55AA = CRC_SIZE + SUFFIX_SIZE;
constexpr uint32_t MIN_LENGTH_6699 = crypto::GCM_IV_SIZE + crypto::GCM_TAG_SIZE;

size_t check_size(Integrity integrity) {
  return integrity == Integrity::CRC32 ? CRC_SIZE : HMAC_SIZE;
}

bool has_prefix(ByteView data, const std::array<uint8_t, 4>& prefix) {
  return data.size() >= PREFIX_SIZE && std::equal(prefix.begin(), prefix.end(), data.begin());
}

std::string num(uint64_t v) {
  return std::to_string(v);
}

}  // namespace

Bytes encode_55aa(const Frame& f, Integrity integrity, ByteView hmac_key) {
  const size_t retcode_size = f.retcode ? RETCODE_SIZE : 0;
  const size_t length = retcode_size + f.payload.size() + check_size(integrity) + SUFFIX_SIZE;
  Bytes out;
  out.reserve(HEADER_SIZE_55AA + length);
  put_u32(out, PREFIX_55AA);
  put_u32(out, f.seqno);
  put_u32(out, f.cmd);
  put_u32(out, static_cast<uint32_t>(length));
  if (f.retcode) put_u32(out, *f.retcode);
  append(out, f.payload);
  if (integrity == Integrity::CRC32) {
    put_u32(out, crypto::crc32(out));
  } else {
    auto mac = crypto::hmac_sha256(hmac_key, out);
    append(out, mac);
  }
  put_u32(out, SUFFIX_55AA);
  return out;
}

PResult<Frame> decode_55aa(ByteView frame, Integrity integrity, ByteView hmac_key, Direction dir) {
  if (frame.size() < HEADER_SIZE_55AA) {
    return proto_fail(ErrorCode::TRUNCATED,
                      "55AA frame of " + num(frame.size()) + " bytes has no full header");
  }
  if (!has_prefix(frame, PREFIX_55AA_BYTES)) return proto_fail(ErrorCode::BAD_PREFIX, "no 000055AA prefix");
  const uint32_t length = get_u32(frame.data() + LENGTH_OFFSET_55AA);
  if (length > MAX_FRAME_LENGTH) {
    return proto_fail(ErrorCode::OVERSIZE,
                      "declared length " + num(length) + " over " + num(MAX_FRAME_LENGTH));
  }
  const size_t csize = check_size(integrity);
  if (length < csize + SUFFIX_SIZE) {
    return proto_fail(ErrorCode::TRUNCATED,
                      "declared length " + num(length) + " too small for check and suffix");
  }
  const size_t total = HEADER_SIZE_55AA + length;
  if (frame.size() < total) {
    return proto_fail(ErrorCode::TRUNCATED, "have " + num(frame.size()) + " of " + num(total) + " bytes");
  }
  if (frame.size() > total) {
    return proto_fail(ErrorCode::BAD_SUFFIX, num(frame.size() - total) + " bytes after the declared end");
  }
  if (get_u32(frame.data() + total - SUFFIX_SIZE) != SUFFIX_55AA) {
    return proto_fail(ErrorCode::BAD_SUFFIX, "no 0000AA55 suffix at the declared end");
  }
  const size_t covered = total - SUFFIX_SIZE - csize;  // prefix .. last payload byte
  const ByteView signed_part = frame.first(covered);
  const ByteView check = frame.subspan(covered, csize);
  if (integrity == Integrity::CRC32) {
    if (crypto::crc32(signed_part) != get_u32(check.data()))
      return proto_fail(ErrorCode::BAD_CRC, "CRC32 mismatch");
  } else {
    if (hmac_key.empty()) return proto_fail(ErrorCode::BAD_ARGUMENT, "no HMAC key");
    auto mac = crypto::hmac_sha256(hmac_key, signed_part);
    if (!crypto::equal_ct(mac, check)) return proto_fail(ErrorCode::BAD_HMAC, "HMAC-SHA256 mismatch");
  }
  Frame f;
  f.seqno = get_u32(frame.data() + SEQNO_OFFSET_55AA);
  f.cmd = get_u32(frame.data() + CMD_OFFSET_55AA);
  ByteView body = frame.subspan(HEADER_SIZE_55AA, covered - HEADER_SIZE_55AA);
  // §2.1: a first word with any of its upper 24 bits set is payload (the sender omitted the retcode).
  if (dir == Direction::FROM_DEVICE && body.size() >= RETCODE_SIZE && (get_u32(body.data()) >> 8) == 0) {
    f.retcode = get_u32(body.data());
    body = body.subspan(RETCODE_SIZE);
  }
  f.payload.assign(body.begin(), body.end());
  return f;
}

Bytes encode_6699(const Frame& f, ByteView key, ByteView iv) {
  if (key.size() != crypto::AES_KEY_SIZE || iv.size() != crypto::GCM_IV_SIZE) return {};
  Bytes plain;
  plain.reserve(RETCODE_SIZE + f.payload.size());
  if (f.retcode) put_u32(plain, *f.retcode);
  append(plain, f.payload);
  const size_t length = crypto::GCM_IV_SIZE + plain.size() + crypto::GCM_TAG_SIZE;
  Bytes out;
  out.reserve(HEADER_SIZE_6699 + length + SUFFIX_SIZE);
  put_u32(out, PREFIX_6699);
  put_u16(out, 0);  // reserved
  put_u32(out, f.seqno);
  put_u32(out, f.cmd);
  put_u32(out, static_cast<uint32_t>(length));
  const ByteView aad = ByteView(out).subspan(AAD_OFFSET_6699, AAD_SIZE_6699);
  auto sealed = crypto::aes_gcm_encrypt(key, iv, aad, plain);
  if (!sealed) return {};
  append(out, iv);
  append(out, sealed->ciphertext);
  append(out, sealed->tag);
  put_u32(out, SUFFIX_6699);
  return out;
}

PResult<Frame> decode_6699(ByteView frame, ByteView key, Direction dir) {
  if (frame.size() < HEADER_SIZE_6699) {
    return proto_fail(ErrorCode::TRUNCATED,
                      "6699 frame of " + num(frame.size()) + " bytes has no full header");
  }
  if (!has_prefix(frame, PREFIX_6699_BYTES)) return proto_fail(ErrorCode::BAD_PREFIX, "no 00006699 prefix");
  const uint32_t length = get_u32(frame.data() + LENGTH_OFFSET_6699);
  if (length > MAX_FRAME_LENGTH) {
    return proto_fail(ErrorCode::OVERSIZE,
                      "declared length " + num(length) + " over " + num(MAX_FRAME_LENGTH));
  }
  if (length < MIN_LENGTH_6699) {
    return proto_fail(ErrorCode::TRUNCATED, "declared length " + num(length) + " too small for IV and tag");
  }
  const size_t total = HEADER_SIZE_6699 + length + SUFFIX_SIZE;
  if (frame.size() < total) {
    return proto_fail(ErrorCode::TRUNCATED, "have " + num(frame.size()) + " of " + num(total) + " bytes");
  }
  if (frame.size() > total) {
    return proto_fail(ErrorCode::BAD_SUFFIX, num(frame.size() - total) + " bytes after the declared end");
  }
  if (get_u32(frame.data() + total - SUFFIX_SIZE) != SUFFIX_6699) {
    return proto_fail(ErrorCode::BAD_SUFFIX, "no 00009966 suffix at the declared end");
  }
  if (key.size() != crypto::AES_KEY_SIZE) return proto_fail(ErrorCode::BAD_ARGUMENT, "key must be 16 bytes");
  const ByteView aad = frame.subspan(AAD_OFFSET_6699, AAD_SIZE_6699);
  const ByteView iv = frame.subspan(HEADER_SIZE_6699, crypto::GCM_IV_SIZE);
  const size_t ct_size = length - crypto::GCM_IV_SIZE - crypto::GCM_TAG_SIZE;
  const ByteView ct = frame.subspan(HEADER_SIZE_6699 + crypto::GCM_IV_SIZE, ct_size);
  const ByteView tag = frame.subspan(HEADER_SIZE_6699 + crypto::GCM_IV_SIZE + ct_size, crypto::GCM_TAG_SIZE);
  auto plain = crypto::aes_gcm_decrypt(key, iv, aad, ct, tag);
  if (!plain) return proto_fail(ErrorCode::BAD_TAG, "GCM tag mismatch");
  Frame f;
  f.seqno = get_u32(frame.data() + SEQNO_OFFSET_6699);
  f.cmd = get_u32(frame.data() + CMD_OFFSET_6699);
  ByteView body = *plain;
  if (dir == Direction::FROM_DEVICE && body.size() >= RETCODE_SIZE && body[0] != '{') {
    f.retcode = get_u32(body.data());
    body = body.subspan(RETCODE_SIZE);
  }
  f.payload.assign(body.begin(), body.end());
  return f;
}

// ---- FrameSplitter ----

void FrameSplitter::feed(ByteView data) {
  // Compact lazily: only when the consumed part dominates, so feeding stays amortised O(n).
  if (start_ > 0 && start_ * 2 >= buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  append(buf_, data);
}

void FrameSplitter::reset() {
  buf_.clear();
  start_ = 0;
}

size_t FrameSplitter::buffered() const {
  return buf_.size() - start_;
}

std::optional<PResult<Bytes>> FrameSplitter::next() {
  const ByteView avail = ByteView(buf_).subspan(start_);
  // Find the earliest prefix of either kind.
  size_t pos = avail.size();
  bool is_6699 = false;
  for (size_t i = 0; i + PREFIX_SIZE <= avail.size(); ++i) {
    if (avail[i] != 0 || avail[i + 1] != 0) continue;
    if (avail[i + 2] == 0x55 && avail[i + 3] == 0xAA) {
      pos = i;
      break;
    }
    if (avail[i + 2] == 0x66 && avail[i + 3] == 0x99) {
      pos = i;
      is_6699 = true;
      break;
    }
  }
  if (pos == avail.size()) {
    // No prefix: keep at most the last 3 bytes, which may be the start of a prefix split across reads.
    const size_t keep = std::min(avail.size(), PREFIX_SIZE - 1);
    const size_t drop = avail.size() - keep;
    skipped_bytes_ += drop;
    start_ += drop;
    if (start_ == buf_.size()) reset();
    return std::nullopt;
  }
  skipped_bytes_ += pos;
  start_ += pos;
  const ByteView rest = ByteView(buf_).subspan(start_);
  const size_t header = is_6699 ? HEADER_SIZE_6699 : HEADER_SIZE_55AA;
  if (rest.size() < header) return std::nullopt;
  const uint32_t length = get_u32(rest.data() + (is_6699 ? LENGTH_OFFSET_6699 : LENGTH_OFFSET_55AA));
  const uint32_t min_length = is_6699 ? MIN_LENGTH_6699 : MIN_LENGTH_55AA;
  // Resynchronise past this prefix; the bytes after it are scanned again for the next one.
  auto resync = [this]() {
    start_ += PREFIX_SIZE;
    skipped_bytes_ += PREFIX_SIZE;
  };
  if (length > max_length_) {
    resync();
    return PResult<Bytes>(proto_fail(ErrorCode::OVERSIZE, "declared length " + num(length) + " over " +
                                                              num(max_length_) + "; resynchronising"));
  }
  if (length < min_length) {
    resync();
    return PResult<Bytes>(proto_fail(
        ErrorCode::TRUNCATED, "declared length " + num(length) + " below the minimum; resynchronising"));
  }
  const size_t total = header + length + (is_6699 ? SUFFIX_SIZE : 0);
  if (rest.size() < total) return std::nullopt;
  const uint32_t suffix = get_u32(rest.data() + total - SUFFIX_SIZE);
  if (suffix != (is_6699 ? SUFFIX_6699 : SUFFIX_55AA)) {
    resync();
    return PResult<Bytes>(
        proto_fail(ErrorCode::BAD_SUFFIX, "no suffix at the declared end; resynchronising"));
  }
  Bytes out(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(total));
  start_ += total;
  if (start_ == buf_.size()) reset();
  return PResult<Bytes>(std::move(out));
}

std::optional<FramePeek> peek_header(ByteView data) {
  FramePeek p;
  if (has_prefix(data, PREFIX_55AA_BYTES) && data.size() >= HEADER_SIZE_55AA) {
    p.seqno = get_u32(data.data() + SEQNO_OFFSET_55AA);
    p.cmd = get_u32(data.data() + CMD_OFFSET_55AA);
    p.length = get_u32(data.data() + LENGTH_OFFSET_55AA);
    return p;
  }
  if (has_prefix(data, PREFIX_6699_BYTES) && data.size() >= HEADER_SIZE_6699) {
    p.is_6699 = true;
    p.seqno = get_u32(data.data() + SEQNO_OFFSET_6699);
    p.cmd = get_u32(data.data() + CMD_OFFSET_6699);
    p.length = get_u32(data.data() + LENGTH_OFFSET_6699);
    return p;
  }
  return std::nullopt;
}

}  // namespace t2m::proto
