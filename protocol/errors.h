// Typed protocol errors: every decode failure says what failed, never throws, never crashes.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace t2m::proto {

enum class ErrorCode {
  TRUNCATED,      // fewer bytes than the header or the declared length
  BAD_PREFIX,     // no 55AA/6699 prefix where one was expected
  BAD_SUFFIX,     // suffix missing or wrong: framing lost
  OVERSIZE,       // declared length over MAX_FRAME_LENGTH
  BAD_CRC,        // CRC32 mismatch (3.1-3.3)
  BAD_HMAC,       // HMAC-SHA256 mismatch (3.4): wrong key or corrupted frame
  BAD_TAG,        // GCM tag mismatch (3.5 / discovery): wrong key or corrupted frame
  BAD_PADDING,    // PKCS#7 padding invalid after decryption: wrong key
  BAD_BASE64,     // 3.1 CONTROL payload not base64
  BAD_SIGNATURE,  // 3.1 MD5 signature mismatch
  NOT_JSON,       // payload decrypted but is not JSON (and not a known error string)
  DEVICE_ERROR,   // the device answered with an error string such as "json obj data unvalid"
  WRONG_KEY,      // handshake HMAC mismatch: the local key is wrong
  WRONG_VERSION,  // frame kind or version header does not match the session's version
  HANDSHAKE,      // handshake out of order or malformed
  BAD_ARGUMENT,   // caller error: bad key size, IV size, unknown version
};

std::string_view to_string(ErrorCode code);

struct ProtoError {
  ErrorCode code = ErrorCode::TRUNCATED;
  std::string detail;  // human text; never contains key material
};

template <class T>
using PResult = Result<T, ProtoError>;
using PStatus = Result<void, ProtoError>;

inline Unexpected<ProtoError> proto_fail(ErrorCode code, std::string detail = {}) {
  return Unexpected<ProtoError>{ProtoError{code, std::move(detail)}};
}

}  // namespace t2m::proto
