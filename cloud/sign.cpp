#include "cloud/sign.h"

#include <algorithm>
#include <cctype>

#include "common/bytes.h"
#include "protocol/crypto.h"

namespace t2m::cloud {

namespace crypto = t2m::proto::crypto;

std::string body_sha256_hex(std::string_view body) {
  return to_hex(crypto::sha256(as_bytes(body)));
}

std::string canonical_url(std::string_view path, const KeyValues& query) {
  std::string url(path);
  if (query.empty()) return url;
  KeyValues sorted = query;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  url += '?';
  bool first = true;
  for (const auto& [k, v] : sorted) {
    if (!first) url += '&';
    first = false;
    url += k;
    url += '=';
    url += v;
  }
  return url;
}

std::string signature_headers_value(const KeyValues& signed_headers) {
  std::string out;
  for (const auto& [name, value] : signed_headers) {
    if (!out.empty()) out += ':';
    out += name;
  }
  return out;
}

std::string string_to_sign(const SignInput& in) {
  std::string method = in.method;
  std::transform(method.begin(), method.end(), method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string s = method;
  s += '\n';
  s += body_sha256_hex(in.body);
  s += '\n';
  for (const auto& [name, value] : in.signed_headers) {
    s += name;
    s += ':';
    s += value;
    s += '\n';
  }
  s += '\n';
  s += canonical_url(in.path, in.query);
  return s;
}

std::string sign_request(const SignInput& in) {
  std::string msg = in.client_id + in.access_token + in.t + in.nonce + string_to_sign(in);
  return to_hex(crypto::hmac_sha256(as_bytes(in.secret), as_bytes(msg)), /*upper=*/true);
}

}  // namespace t2m::cloud
