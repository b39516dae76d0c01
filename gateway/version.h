// The gateway's version, as bridge/info, Home Assistant's origin and `tuya2mqtt version` report it.
#pragma once

#include <string_view>

namespace t2m::gw {
inline constexpr std::string_view GATEWAY_VERSION = "0.1.0";
}  // namespace t2m::gw
