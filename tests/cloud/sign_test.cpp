// Every signing vector of docs/cloud.md §1.4.
#include "cloud/sign.h"

#include <doctest/doctest.h>

#include "common/bytes.h"
#include "protocol/crypto.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_sign_test {

using namespace t2m::cloud;

namespace {

const char* const CLIENT_ID = "1KAD46OrT9HafiKdsXeg";
const char* const SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC";
const char* const T = "1588925778000";
const char* const NONCE = "5138cc3a9033d69856923fd07b491173";
const char* const TOKEN = "3f4eda2bdec17232f67c0b188af3eec1";

SignInput base(const char* method, const char* path, KeyValues query = {}, std::string body = {}) {
  SignInput in;
  in.method = method;
  in.path = path;
  in.query = std::move(query);
  in.body = std::move(body);
  in.client_id = CLIENT_ID;
  in.secret = SECRET;
  in.t = T;
  return in;
}

KeyValues doc_headers() {
  return {{"area_id", "29a33e8796834b1efa6"}, {"call_id", "8afdb70ab2ed11eb85290242ac130003"}};
}

}  // namespace

TEST_CASE("empty body hash") {
  CHECK(body_sha256_hex("") == std::string(EMPTY_BODY_SHA256));
  CHECK(body_sha256_hex(R"({"commands":[{"code":"switch_led","value":true}]})") ==
        "8479c9c60cd5d531054c49333c7b361a9ce41b9b313ab8eb6bc9df4141f658ef");
}

TEST_CASE("canonical url sorts by key and does not encode") {
  CHECK(canonical_url("/v1.0/token", {}) == "/v1.0/token");
  CHECK(canonical_url("/a", {{"b", "2"}, {"a", "x y,z"}}) == "/a?a=x y,z&b=2");
  CHECK(canonical_url("/v1.3/iot-03/devices", {{"page_size", "20"},
                                               {"last_row_key", "abc"},
                                               {"source_type", "tuyaUser"},
                                               {"source_id", "ay123"}}) ==
        "/v1.3/iot-03/devices?last_row_key=abc&page_size=20&source_id=ay123&source_type=tuyaUser");
  // Byte order: upper case sorts before lower case.
  CHECK(canonical_url("/p", {{"b", "1"}, {"B", "2"}}) == "/p?B=2&b=1");
}

TEST_CASE("doc vector: token call with nonce and signed headers") {
  SignInput in = base("GET", "/v1.0/token", {{"grant_type", "1"}});
  in.nonce = NONCE;
  in.signed_headers = doc_headers();
  CHECK(string_to_sign(in) ==
        std::string("GET\n") + std::string(EMPTY_BODY_SHA256) +
            "\narea_id:29a33e8796834b1efa6\ncall_id:8afdb70ab2ed11eb85290242ac130003\n\n"
            "/v1.0/token?grant_type=1");
  CHECK(sign_request(in) == "9E48A3E93B302EEECC803C7241985D0A34EB944F40FB573C7B5C2A82158AF13E");
  CHECK(signature_headers_value(in.signed_headers) == "area_id:call_id");
}

TEST_CASE("doc vector: business call with nonce, token and signed headers") {
  SignInput in = base("get", "/v2.0/apps/schema/users", {{"page_size", "50"}, {"page_no", "1"}});
  in.nonce = NONCE;
  in.access_token = TOKEN;
  in.signed_headers = doc_headers();
  CHECK(sign_request(in) == "AE4481C692AA80B25F3A7E12C3A5FD9BBF6251539DD78E565A1A72A508A88784");
}

TEST_CASE("old-algorithm vectors (documented for diagnostics; not implemented as a signer)") {
  namespace crypto = t2m::proto::crypto;
  auto hm = [](const std::string& msg) {
    return t2m::to_hex(crypto::hmac_sha256(t2m::as_bytes(SECRET), t2m::as_bytes(msg)), true);
  };
  CHECK(hm(std::string(CLIENT_ID) + T) == "CEAAFB5CCDC2F723A9FD3E91D3D2238EE0DD9A6D7C3C365DEB50FC2AF277AA83");
  CHECK(hm(std::string(CLIENT_ID) + TOKEN + T) ==
        "36C30E300F226B68ADD014DD1EF56A81EDB7B7A817840485769B9D6C96D0FAA1");
  // The new algorithm must differ from the old one on the same inputs.
  CHECK(sign_request(base("GET", "/v1.0/token", {{"grant_type", "1"}})) !=
        "CEAAFB5CCDC2F723A9FD3E91D3D2238EE0DD9A6D7C3C365DEB50FC2AF277AA83");
}

TEST_CASE("computed vectors without nonce or signed headers") {
  SUBCASE("token") {
    SignInput in = base("GET", "/v1.0/token", {{"grant_type", "1"}});
    CHECK(string_to_sign(in) ==
          std::string("GET\n") + std::string(EMPTY_BODY_SHA256) + "\n\n/v1.0/token?grant_type=1");
    CHECK(sign_request(in) == "7BA26C076E5ECB1E959BE274A0FFB397B2B1865FC7BCED8F1C78AC5653C20CAA");
  }
  SUBCASE("refresh") {
    SignInput in = base("GET", "/v1.0/token/0930d55f368fe9791b752f2257e8a76b");
    CHECK(sign_request(in) == "222E251979CA1CDEDD4E6CAAAEE57BF8E151F27D5A93B9F0C4358A0074390E61");
  }
  SUBCASE("device details") {
    SignInput in = base("GET", "/v1.0/devices/vdevo123456789");
    in.access_token = TOKEN;
    CHECK(sign_request(in) == "E643831C0C6DB2EACF2171C569008B56BE0CA5D2B87F59C3F4443AC6B4DE7DF4");
  }
  SUBCASE("commands with body") {
    SignInput in = base("POST", "/v1.0/devices/vdevo123456789/commands", {},
                        R"({"commands":[{"code":"switch_led","value":true}]})");
    in.access_token = TOKEN;
    CHECK(sign_request(in) == "1F8D446A2BE530A904820156626D6F4F9594961F67599292DFBB2FFDCEEBDBE6");
    // One byte of difference in the body changes the signature (sign the exact bytes sent).
    in.body = R"({"commands":[{"code":"switch_led","value":true}] })";
    CHECK(sign_request(in) != "1F8D446A2BE530A904820156626D6F4F9594961F67599292DFBB2FFDCEEBDBE6");
  }
  SUBCASE("v1.3 listing with unsorted query") {
    SignInput in = base(
        "GET", "/v1.3/iot-03/devices",
        {{"page_size", "20"}, {"last_row_key", "abc"}, {"source_type", "tuyaUser"}, {"source_id", "ay123"}});
    in.access_token = TOKEN;
    CHECK(sign_request(in) == "28516A7A5EDE09E030C4945C6F163F283C803E14A5391CA7EBB293AC28502A26");
  }
}

}  // namespace t2m_sign_test
