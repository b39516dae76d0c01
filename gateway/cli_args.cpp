#include "gateway/cli_args.h"

namespace t2m::gw {

Result<Args> parse_args(const std::vector<std::string>& argv, const ArgSpec& spec) {
  Args out;
  bool only_positional = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (only_positional || a.size() < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9')) {
      out.positional.push_back(a);  // also negative numbers such as "-5" as a DP value
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::optional<std::string> inline_value;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (auto al = spec.aliases.find(a); al != spec.aliases.end()) a = al->second;
    if (spec.bool_flags.count(a)) {
      if (inline_value) return fail("bad_argument", a + " takes no value");
      out.flags.insert(a);
      continue;
    }
    if (spec.value_flags.count(a)) {
      if (inline_value) {
        out.values[a] = *inline_value;
      } else {
        if (i + 1 >= argv.size()) return fail("bad_argument", a + " needs a value");
        out.values[a] = argv[++i];
      }
      continue;
    }
    return fail("bad_argument", "unknown option " + a + " (see --help)");
  }
  return out;
}

}  // namespace t2m::gw
