#include "cloud/openapi_errors.h"

#include <cstdlib>

namespace t2m::cloud {

Error tuya_error(int code, const std::string& msg, const std::string& tid) {
  const CodeInfo info = classify_tuya_code(code);
  std::string text = "[" + std::to_string(code) + "] " + msg;
  if (!tid.empty()) text += " (tid " + tid + ")";
  if (info.hint && *info.hint) text += ": " + std::string(info.hint);
  return Error{info.error_code, text};
}

CodeInfo classify_tuya_code(int code) {
  switch (code) {
    case 500:
      return {CodeAction::RETRY_BACKOFF, ERR_SERVER, ""};
    case 1110:
    case 1111:
    case 1199:
      return {CodeAction::RETRY_BACKOFF, ERR_THROTTLED, "too many requests; the gateway backs off"};
    case 1112:
      return {CodeAction::RETRY_BACKOFF, ERR_BUSY, "the cloud is syncing the user; retry later"};
    case 1010:
      return {CodeAction::REFRESH_TOKEN, ERR_TOKEN, ""};
    case 1011:
    case 1012:
    case 1400:
      return {CodeAction::NEW_TOKEN, ERR_TOKEN, ""};
    case 1013:
      return {CodeAction::CLOCK_SKEW, ERR_CLOCK, "the host clock is off; synchronise it (NTP)"};
    case 1001:
    case 1005:
    case 1008:
      return {CodeAction::STOP, ERR_CONFIG, "check the Access ID and Access Secret of the cloud project"};
    case 28841002:
      return {CodeAction::STOP, ERR_TRIAL_EXPIRED,
              "the IoT Core trial of the cloud project has expired; extend it on the Tuya IoT platform"};
    case 28841004:
      return {CodeAction::STOP, ERR_QUOTA,
              "the monthly API quota of the Trial Edition is used up; the gateway stops calling the cloud"};
    case 28841105:
      return {CodeAction::FAIL, ERR_NOT_AUTHORIZED,
              "the cloud project is not authorised to call this API; subscribe/authorise the API service "
              "(IoT Core, Authorization Token Management, Smart Home Basic Service)"};
    case 1004:
      return {CodeAction::FAIL, ERR_SIGN, "wrong Access Secret, or a signing bug"};
    case 1000:
    case 2002:
    case 2003:
    case 2005:
    case 2006:
    case 2010:
      return {CodeAction::FAIL, ERR_NOT_FOUND, ""};
    case 1002:
    case 1003:
    case 1100:
    case 1101:
    case 1102:
    case 1105:
    case 1109:
      return {CodeAction::FAIL, ERR_BAD_REQUEST, ""};
    case 1103:
      return {CodeAction::FAIL, ERR_COMMAND, ""};
    case 1104:
      return {CodeAction::FAIL, ERR_TYPE, "a value has the wrong JSON type for this DP"};
    case 1106:
      return {CodeAction::FAIL, ERR_PERMISSION,
              "permission denied: the app account may not be linked to the project, the data center may be "
              "wrong, the device may not be in the project, or the API family is not allowed"};
    case 1108:
      return {CodeAction::FAIL, ERR_API_UNAVAILABLE, "this API is not available to the project"};
    case 1113:
      return {CodeAction::FAIL, ERR_DUPLICATE, "the same operation was repeated too quickly"};
    case 2001:
      return {CodeAction::FAIL, ERR_OFFLINE, "the device is offline"};
    case 2007:
      return {CodeAction::FAIL, ERR_REGION,
              "wrong data center: the project region must be the one of the app account"};
    case 2008:
    case 2009:
      return {CodeAction::FAIL, ERR_UNSUPPORTED, ""};
    case 2406:
      return {CodeAction::FAIL, ERR_SKILL, "wrong data center or app schema"};
    default:
      return {CodeAction::FAIL, ERR_OTHER, ""};
  }
}

int tuya_code_of(const Error& e) {
  if (e.message.size() < 3 || e.message[0] != '[') return 0;
  return std::atoi(e.message.c_str() + 1);
}

}  // namespace t2m::cloud
