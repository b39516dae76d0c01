// The error codes the gateway itself sends on MQTT (set/result "code", bridge/response errors, the
// health_check error counters). One enum so code branches on values, not on spellings; the text table in
// error_code.cpp is the only place a code's wire spelling lives. Codes that come from other modules
// (session, payload parsing) still arrive as Error::code text and are counted as they are.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace t2m::gw {

enum class ErrorCode {
  INTERNAL_ERROR,
  BAD_PAYLOAD,
  UNKNOWN_DEVICE,
  OFFLINE,
  CLOUD_OFF,
  UNKNOWN_REQUEST,
  BAD_REQUEST,
  NAME_TAKEN,
  EXISTS,
  INVALID_DEVICE,
  INVALID_OPTIONS,
  CLOUD_UNKNOWN_CODE,
  DISCOVERY_OFF,
  CLOUD_COMMAND_FAILED,
  DP_REFUSED,
  // Reported by device sessions; the bridge reacts to them.
  WRONG_KEY,
  NO_ANSWER,
  WRONG_VERSION,
};

// t2m::fail stays visible next to the overload below.
using t2m::fail;

// The wire spelling ("unknown_device", ...).
std::string_view to_string(ErrorCode code);
// True when `text` is the wire spelling of `code`.
bool is(const Error& e, ErrorCode code);
// An error value carrying `code`'s wire spelling.
Unexpected<Error> fail(ErrorCode code, std::string message);

}  // namespace t2m::gw
