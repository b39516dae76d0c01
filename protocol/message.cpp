#include "protocol/message.h"

#include <array>
#include <string>

#include "protocol/crypto.h"
#include "protocol/wire_util.h"

namespace t2m::proto {

using detail::append;
using detail::starts_with_version;

namespace {

constexpr size_t VERSION_TEXT_SIZE = 3;  // "3.x"
// The fixed parts of the string a 3.1 CONTROL signature is computed over (docs/protocol.md §4.4).
constexpr std::string_view V31_SIG_DATA = "data=";
constexpr std::string_view V31_SIG_LPV = "||lpv=3.1||";
constexpr size_t V31_SIG_HEX_OFFSET = 8;  // the signature is md5_hex[8:24]

bool is_session_command(uint32_t cmd) {
  return cmd == static_cast<uint32_t>(Command::SESS_KEY_NEG_START) ||
         cmd == static_cast<uint32_t>(Command::SESS_KEY_NEG_RESP) ||
         cmd == static_cast<uint32_t>(Command::SESS_KEY_NEG_FINISH);
}

Bytes version_header(Version v) {
  Bytes h;
  h.reserve(VERSION_HEADER_SIZE);
  append(h, to_string(v));
  h.resize(VERSION_HEADER_SIZE, 0);
  return h;
}

std::string v31_signature(std::string_view b64, ByteView key) {
  std::string signed_text;
  signed_text.reserve(V31_SIG_DATA.size() + b64.size() + V31_SIG_LPV.size() + key.size());
  signed_text.append(V31_SIG_DATA).append(b64).append(V31_SIG_LPV).append(as_chars(key));
  auto digest = crypto::md5(as_bytes(signed_text));
  return to_hex(digest).substr(V31_SIG_HEX_OFFSET, V31_SIGNATURE_SIZE);
}

// Printable ASCII (and whitespace): what a device error string looks like.
bool is_text(ByteView data) {
  for (uint8_t c : data) {
    if ((c < 0x20 || c > 0x7E) && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

bool looks_like_json(ByteView data) {
  return !data.empty() && (data[0] == '{' || data[0] == '[');
}

bool is_3_1_wrapped_command(Role sender, uint32_t cmd) {
  // CONTROL is always wrapped; devices also wrap their STATUS pushes (tuyapi's cipher test vector).
  return cmd == static_cast<uint32_t>(Command::CONTROL) ||
         (sender == Role::DEVICE && cmd == static_cast<uint32_t>(Command::STATUS));
}

}  // namespace

MessageCodec::MessageCodec(Role role, Version version, Bytes local_key, bool device22)
    : role_(role), version_(version), local_key_(std::move(local_key)), device22_(device22) {}

ByteView MessageCodec::active_key() const {
  if (needs_session_key(version_) && has_session_key()) return session_key_;
  return local_key_;
}

PResult<Bytes> MessageCodec::encode(uint32_t cmd, std::string_view json, uint32_t seqno, ByteView iv,
                                    uint32_t retcode) const {
  return seal(cmd, as_bytes(json), seqno, iv, retcode);
}

PResult<Bytes> MessageCodec::seal(uint32_t cmd, ByteView payload, uint32_t seqno, ByteView iv,
                                  uint32_t retcode) const {
  const ByteView key = active_key();
  if (key.size() != crypto::AES_KEY_SIZE) return proto_fail(ErrorCode::BAD_ARGUMENT, "key must be 16 bytes");
  Frame f;
  f.seqno = seqno;
  f.cmd = cmd;
  if (role_ == Role::DEVICE) f.retcode = retcode;
  const bool header = takes_version_header(cmd);

  switch (version_) {
    case Version::V3_1: {
      if (!payload.empty() && is_3_1_wrapped_command(role_, cmd)) {
        auto ct = crypto::aes_ecb_encrypt(key, payload);
        if (!ct) return proto_fail(ErrorCode::BAD_ARGUMENT, "AES-ECB failed");
        const std::string b64 = crypto::base64_encode(*ct);
        append(f.payload, to_string(version_));
        append(f.payload, v31_signature(b64, key));
        append(f.payload, b64);
      } else {
        append(f.payload, payload);
      }
      return encode_55aa(f, Integrity::CRC32);
    }
    case Version::V3_2:
    case Version::V3_3: {
      if (!payload.empty()) {
        auto ct = crypto::aes_ecb_encrypt(key, payload);
        if (!ct) return proto_fail(ErrorCode::BAD_ARGUMENT, "AES-ECB failed");
        if (header) f.payload = version_header(version_);
        append(f.payload, *ct);
      }
      return encode_55aa(f, Integrity::CRC32);
    }
    case Version::V3_4: {
      if (!payload.empty()) {
        Bytes plain;
        if (header) plain = version_header(version_);
        append(plain, payload);
        auto ct = crypto::aes_ecb_encrypt(key, plain);
        if (!ct) return proto_fail(ErrorCode::BAD_ARGUMENT, "AES-ECB failed");
        f.payload = std::move(*ct);
      }
      return encode_55aa(f, Integrity::HMAC_SHA256, key);
    }
    case Version::V3_5: {
      if (iv.size() != crypto::GCM_IV_SIZE)
        return proto_fail(ErrorCode::BAD_ARGUMENT, "3.5 needs a 12-byte IV");
      if (!payload.empty()) {
        if (header) f.payload = version_header(version_);
        append(f.payload, payload);
      }
      Bytes out = encode_6699(f, key, iv);
      if (out.empty()) return proto_fail(ErrorCode::BAD_ARGUMENT, "AES-GCM failed");
      return out;
    }
  }
  return proto_fail(ErrorCode::BAD_ARGUMENT, "unknown version");
}

PResult<Frame> MessageCodec::open(ByteView frame) const {
  const ByteView key = active_key();
  if (key.size() != crypto::AES_KEY_SIZE) return proto_fail(ErrorCode::BAD_ARGUMENT, "key must be 16 bytes");
  const Direction dir = role_ == Role::CLIENT ? Direction::FROM_DEVICE : Direction::TO_DEVICE;
  const auto peek = peek_header(frame);
  if (peek && peek->is_6699 != uses_6699(version_)) {
    return proto_fail(ErrorCode::WRONG_VERSION, std::string(peek->is_6699 ? "6699" : "55AA") +
                                                    " frame in a " + std::string(to_string(version_)) +
                                                    " session");
  }

  if (version_ == Version::V3_5) {
    auto f = decode_6699(frame, key, dir);
    if (!f) return f;
    if (!is_session_command(f->cmd) && starts_with_version(f->payload)) {
      if (f->payload.size() < VERSION_HEADER_SIZE)
        return proto_fail(ErrorCode::TRUNCATED, "short version header");
      f->payload.erase(f->payload.begin(), f->payload.begin() + VERSION_HEADER_SIZE);
    }
    return f;
  }

  const Integrity integrity = version_ == Version::V3_4 ? Integrity::HMAC_SHA256 : Integrity::CRC32;
  auto decoded = decode_55aa(frame, integrity, key, dir);
  if (!decoded) {
    // A check that fails but would pass with the other version's check means a version mismatch, which
    // the user fixes differently from a wrong key.
    const ErrorCode code = decoded.error().code;
    if (code == ErrorCode::BAD_CRC && decode_55aa(frame, Integrity::HMAC_SHA256, local_key_, dir)) {
      return proto_fail(ErrorCode::WRONG_VERSION, "frame carries an HMAC-SHA256 (3.4) instead of a CRC32");
    }
    if (code == ErrorCode::BAD_HMAC && decode_55aa(frame, Integrity::CRC32, {}, dir)) {
      return proto_fail(ErrorCode::WRONG_VERSION, "frame carries a CRC32 (3.1-3.3) instead of an HMAC");
    }
    return decoded;
  }
  Frame f = std::move(decoded.value());
  if (f.payload.empty()) return f;
  const bool session_cmd = is_session_command(f.cmd);

  switch (version_) {
    case Version::V3_1: {
      const ByteView p = f.payload;
      if (!starts_with_version(p)) return f;  // plaintext
      if (p[2] != '1') return proto_fail(ErrorCode::WRONG_VERSION, "version header in a 3.1 session");
      const size_t prefix = VERSION_TEXT_SIZE + V31_SIGNATURE_SIZE;
      if (p.size() < prefix)
        return proto_fail(ErrorCode::TRUNCATED, "3.1 payload shorter than its signature");
      const std::string_view sig = as_chars(p.subspan(VERSION_TEXT_SIZE, V31_SIGNATURE_SIZE));
      const std::string_view b64 = as_chars(p.subspan(prefix));
      if (!crypto::equal_ct(as_bytes(sig), as_bytes(v31_signature(b64, key)))) {
        return proto_fail(ErrorCode::BAD_SIGNATURE, "3.1 MD5 signature mismatch");
      }
      auto ct = crypto::base64_decode(b64);
      if (!ct) return proto_fail(ErrorCode::BAD_BASE64, "3.1 payload is not base64");
      auto plain = crypto::aes_ecb_decrypt(key, *ct);
      if (!plain) return proto_fail(ErrorCode::BAD_PADDING, "3.1 payload does not decrypt (wrong key?)");
      f.payload = std::move(*plain);
      return f;
    }
    case Version::V3_2:
    case Version::V3_3: {
      ByteView p = f.payload;
      // Ciphertext is whole blocks, so a 15-byte header shows as a length of 15 mod 16. Testing the
      // length too keeps a ciphertext that happens to start with "3.x" from being cut.
      const bool header_length = p.size() % crypto::AES_BLOCK_SIZE == VERSION_HEADER_SIZE;
      if (!session_cmd && starts_with_version(p) && header_length) {
        if (p[2] != '2' && p[2] != '3') {
          return proto_fail(ErrorCode::WRONG_VERSION,
                            "version header " + std::string(as_chars(p.first(VERSION_TEXT_SIZE))) + " in a " +
                                std::string(to_string(version_)) + " session");
        }
        p = p.subspan(VERSION_HEADER_SIZE);
      } else if (!session_cmd && device22_ && header_length) {
        p = p.subspan(VERSION_HEADER_SIZE);  // §4.5 receive quirk: a header that doesn't say "3.x"
      }
      if (p.empty()) {
        f.payload.clear();
        return f;
      }
      auto plain = crypto::aes_ecb_decrypt(key, p);
      if (!plain) {
        if (looks_like_json(p)) {
          return proto_fail(
              ErrorCode::WRONG_VERSION,
              "cleartext JSON in a " + std::string(to_string(version_)) + " session (a 3.1 device?)");
        }
        if (is_text(p)) {  // a device error string sent in the clear
          f.payload.assign(p.begin(), p.end());
          return f;
        }
        return proto_fail(ErrorCode::BAD_PADDING, "payload does not decrypt (wrong key?)");
      }
      f.payload = std::move(*plain);
      return f;
    }
    case Version::V3_4: {
      if (f.payload.size() % crypto::AES_BLOCK_SIZE != 0) {
        return proto_fail(ErrorCode::BAD_PADDING, "ciphertext is not whole AES blocks");
      }
      auto plain = crypto::aes_ecb_decrypt(key, f.payload);
      if (!plain) return proto_fail(ErrorCode::BAD_PADDING, "payload does not decrypt (wrong key?)");
      f.payload = std::move(*plain);
      if (!session_cmd && starts_with_version(f.payload)) {
        if (f.payload.size() < VERSION_HEADER_SIZE)
          return proto_fail(ErrorCode::TRUNCATED, "short version header");
        f.payload.erase(f.payload.begin(), f.payload.begin() + VERSION_HEADER_SIZE);
      }
      return f;
    }
    case Version::V3_5:
      break;  // handled above
  }
  return proto_fail(ErrorCode::BAD_ARGUMENT, "unknown version");
}

PResult<Message> MessageCodec::decode(ByteView frame) const {
  auto f = open(frame);
  if (!f) return proto_fail(f.error().code, f.error().detail);
  if (!f->payload.empty() && !looks_like_json(f->payload) && !is_text(f->payload)) {
    return proto_fail(ErrorCode::NOT_JSON, "payload is neither JSON nor a device error string");
  }
  Message m;
  m.seqno = f->seqno;
  m.cmd = f->cmd;
  m.retcode = f->retcode;
  m.payload.assign(f->payload.begin(), f->payload.end());
  return m;
}

bool takes_version_header(uint32_t cmd) {
  switch (static_cast<Command>(cmd)) {
    case Command::DP_QUERY:
    case Command::DP_QUERY_NEW:
    case Command::UPDATEDPS:
    case Command::HEART_BEAT:
    case Command::SESS_KEY_NEG_START:
    case Command::SESS_KEY_NEG_RESP:
    case Command::SESS_KEY_NEG_FINISH:
    case Command::LAN_EXT_STREAM:
      return false;
    default:
      return true;
  }
}

PayloadKind classify_payload(std::string_view payload) {
  if (payload.empty()) return PayloadKind::EMPTY;
  const size_t first = payload.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && payload[first] == '{') return PayloadKind::JSON;
  return PayloadKind::DEVICE_ERROR;
}

bool is_device22_error(std::string_view payload) {
  return payload.find("data unvalid") != std::string_view::npos;
}

}  // namespace t2m::proto
