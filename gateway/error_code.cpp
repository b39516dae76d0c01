#include "gateway/error_code.h"

#include <array>
#include <utility>

namespace t2m::gw {
namespace {

struct Spelling {
  ErrorCode code;
  std::string_view text;
};

// In enum order: to_string indexes this table and the unit test checks every entry.
constexpr std::array SPELLINGS{
    Spelling{ErrorCode::INTERNAL_ERROR, "internal_error"},
    Spelling{ErrorCode::BAD_PAYLOAD, "bad_payload"},
    Spelling{ErrorCode::UNKNOWN_DEVICE, "unknown_device"},
    Spelling{ErrorCode::OFFLINE, "offline"},
    Spelling{ErrorCode::CLOUD_OFF, "cloud_off"},
    Spelling{ErrorCode::UNKNOWN_REQUEST, "unknown_request"},
    Spelling{ErrorCode::BAD_REQUEST, "bad_request"},
    Spelling{ErrorCode::NAME_TAKEN, "name_taken"},
    Spelling{ErrorCode::EXISTS, "exists"},
    Spelling{ErrorCode::INVALID_DEVICE, "invalid_device"},
    Spelling{ErrorCode::INVALID_OPTIONS, "invalid_options"},
    Spelling{ErrorCode::CLOUD_UNKNOWN_CODE, "cloud_unknown_code"},
    Spelling{ErrorCode::DISCOVERY_OFF, "discovery_off"},
    Spelling{ErrorCode::CLOUD_COMMAND_FAILED, "cloud_command_failed"},
    Spelling{ErrorCode::DP_REFUSED, "dp_refused"},
    Spelling{ErrorCode::WRONG_KEY, "wrong_key"},
    Spelling{ErrorCode::NO_ANSWER, "no_answer"},
    Spelling{ErrorCode::WRONG_VERSION, "wrong_version"},
};

}  // namespace

std::string_view to_string(ErrorCode code) {
  const auto i = static_cast<size_t>(code);
  return i < SPELLINGS.size() ? SPELLINGS[i].text : std::string_view("internal_error");
}

bool is(const Error& e, ErrorCode code) {
  return e.code == to_string(code);
}

Unexpected<Error> fail(ErrorCode code, std::string message) {
  return t2m::fail(std::string(to_string(code)), std::move(message));
}

}  // namespace t2m::gw
