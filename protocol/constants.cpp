#include "protocol/constants.h"

namespace t2m::proto {

std::optional<Version> parse_version(std::string_view text) {
  if (text == "3.1") return Version::V3_1;
  if (text == "3.2") return Version::V3_2;
  if (text == "3.3") return Version::V3_3;
  if (text == "3.4") return Version::V3_4;
  if (text == "3.5") return Version::V3_5;
  return std::nullopt;
}

std::string_view to_string(Version v) {
  switch (v) {
    case Version::V3_1:
      return "3.1";
    case Version::V3_2:
      return "3.2";
    case Version::V3_3:
      return "3.3";
    case Version::V3_4:
      return "3.4";
    case Version::V3_5:
      return "3.5";
  }
  return "?";
}

}  // namespace t2m::proto
