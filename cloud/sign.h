// Tuya OpenAPI request signing, current algorithm (docs/cloud.md §1.2-1.3). Pure: no clock, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace t2m::cloud {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// Hex SHA-256 of an empty body (every GET).
inline constexpr std::string_view EMPTY_BODY_SHA256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SignInput {
  std::string method;  // any case; upper-cased when signed
  std::string path;    // "/v1.0/devices/x", no scheme/host, no query
  KeyValues query;     // unencoded values, any order
  std::string body;    // the exact bytes sent
  std::string client_id;
  std::string secret;
  std::string access_token;  // empty for the two token endpoints
  std::string t;             // 13-digit ms timestamp as sent in the `t` header
  std::string nonce;         // empty when no nonce header is sent
  KeyValues signed_headers;  // in `Signature-Headers` order
};

// Lower-case hex SHA-256 of `body`.
std::string body_sha256_hex(std::string_view body);
// Path plus `?k=v&...` sorted by key (byte order, stable for equal keys), values not encoded.
std::string canonical_url(std::string_view path, const KeyValues& query);
// METHOD \n sha256(body) \n headers-block \n url; headers-block is "name:value\n" per signed header.
std::string string_to_sign(const SignInput& in);
// UPPER(hex(HMAC-SHA256(secret, client_id + access_token + t + nonce + stringToSign))).
std::string sign_request(const SignInput& in);
// The `Signature-Headers` header value: names joined by ':'.
std::string signature_headers_value(const KeyValues& signed_headers);

}  // namespace t2m::cloud
