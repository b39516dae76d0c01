// What a Tuya OpenAPI error code means for the client (docs/cloud.md §2.2): the Error::code it becomes,
// what the channel does about it (retry, new token, clock correction, stop, report) and the hint shown
// to the user. One table, shared by the channel (openapi_channel.h) and the typed calls (openapi.h).
#pragma once

#include <string>

#include "common/result.h"

namespace t2m::cloud {

// Error::code values of this module (stable: used in metrics and MQTT error answers).
inline constexpr const char* ERR_TRANSPORT = "cloud_transport";      // network, timeout, HTTP status
inline constexpr const char* ERR_SERVER = "cloud_server";            // 500 after retries
inline constexpr const char* ERR_NOT_FOUND = "cloud_not_found";      // 1000, 2002/2003/2005/2006/2010
inline constexpr const char* ERR_CONFIG = "cloud_config";            // 1001/1005/1008: wrong id/secret
inline constexpr const char* ERR_SIGN = "cloud_sign_invalid";        // 1004
inline constexpr const char* ERR_TOKEN = "cloud_token";              // token could not be obtained/renewed
inline constexpr const char* ERR_CLOCK = "cloud_clock";              // 1013 after correction
inline constexpr const char* ERR_BAD_REQUEST = "cloud_bad_request";  // 1002/1003/1100-1102/1105/1109
inline constexpr const char* ERR_COMMAND = "cloud_command_failed";   // 1103
inline constexpr const char* ERR_TYPE = "cloud_type_incorrect";      // 1104
inline constexpr const char* ERR_PERMISSION = "cloud_permission_denied";       // 1106
inline constexpr const char* ERR_API_UNAVAILABLE = "cloud_api_unavailable";    // 1108
inline constexpr const char* ERR_THROTTLED = "cloud_throttled";                // 1110/1111/1199 after retries
inline constexpr const char* ERR_BUSY = "cloud_busy";                          // 1112 after retries
inline constexpr const char* ERR_DUPLICATE = "cloud_duplicate";                // 1113
inline constexpr const char* ERR_OFFLINE = "cloud_device_offline";             // 2001
inline constexpr const char* ERR_REGION = "cloud_region";                      // 2007
inline constexpr const char* ERR_UNSUPPORTED = "cloud_unsupported";            // 2008/2009
inline constexpr const char* ERR_NOT_AUTHORIZED = "cloud_api_not_authorized";  // 28841105
inline constexpr const char* ERR_TRIAL_EXPIRED = "cloud_trial_expired";        // 28841002
inline constexpr const char* ERR_QUOTA = "cloud_quota_exhausted";              // 28841004
inline constexpr const char* ERR_SKILL = "cloud_skill_invalid";                // 2406
inline constexpr const char* ERR_STOPPED = "cloud_stopped";  // refused: an earlier fatal error
inline constexpr const char* ERR_CANCELLED = "cloud_cancelled";
inline constexpr const char* ERR_OTHER = "cloud_error";

// Tuya codes the client's control flow names (the rest only pass through classify_tuya_code).
inline constexpr int TUYA_CODE_SIGN_INVALID = 1004;  // the token call stops on it: every retry fails alike
inline constexpr int TUYA_CODE_NO_DPS = 2009;        // specification of a device without DPs (a gateway)

// What the client does with a Tuya error code (docs/cloud.md §2.2 table).
enum class CodeAction {
  RETRY_BACKOFF,  // 500, 1110, 1111, 1112, 1199
  REFRESH_TOKEN,  // 1010: refresh, retry once
  NEW_TOKEN,      // 1011/1012/1400: fresh grant_type=1 token, retry once
  CLOCK_SKEW,     // 1013: adopt the server's clock, retry once
  STOP,           // 1001/1005/1008, 28841002, 28841004: configuration/account problem, stop calling
  FAIL,           // everything else: report to the caller
};

struct CodeInfo {
  CodeAction action;
  const char* error_code;
  const char* hint;  // what the user should check, empty when none
};
CodeInfo classify_tuya_code(int code);
// Tuya's numeric code inside an Error produced by this module ("[1106] ..."), or 0.
int tuya_code_of(const Error& e);
// The Error for a Tuya answer: "[code] msg (tid ...): hint", with the code's Error::code.
Error tuya_error(int code, const std::string& msg, const std::string& tid);

}  // namespace t2m::cloud
