#include "protocol/errors.h"

namespace t2m::proto {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::TRUNCATED:
      return "truncated";
    case ErrorCode::BAD_PREFIX:
      return "bad_prefix";
    case ErrorCode::BAD_SUFFIX:
      return "bad_suffix";
    case ErrorCode::OVERSIZE:
      return "oversize";
    case ErrorCode::BAD_CRC:
      return "bad_crc";
    case ErrorCode::BAD_HMAC:
      return "bad_hmac";
    case ErrorCode::BAD_TAG:
      return "bad_tag";
    case ErrorCode::BAD_PADDING:
      return "bad_padding";
    case ErrorCode::BAD_BASE64:
      return "bad_base64";
    case ErrorCode::BAD_SIGNATURE:
      return "bad_signature";
    case ErrorCode::NOT_JSON:
      return "not_json";
    case ErrorCode::DEVICE_ERROR:
      return "device_error";
    case ErrorCode::WRONG_KEY:
      return "wrong_key";
    case ErrorCode::WRONG_VERSION:
      return "wrong_version";
    case ErrorCode::HANDSHAKE:
      return "handshake";
    case ErrorCode::BAD_ARGUMENT:
      return "bad_argument";
  }
  return "unknown";
}

}  // namespace t2m::proto
