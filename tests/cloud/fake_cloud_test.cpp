// The fake cloud's own checks: its signature verifier accepts the reference's §1.4 vectors and rejects
// tampering, missing headers and stale timestamps (docs/cloud.md §7.1).
#include "tests/fakecloud/fake_cloud.h"
#include "tests/fakes/fake_timers.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_fake_cloud_test {

using namespace t2m;
using namespace t2m::fakecloud;
using nlohmann::json;

namespace {

Request doc_token_request() {
  Request r;
  r.method = "GET";
  r.path = "/v1.0/token";
  r.query = {{"grant_type", "1"}};
  r.headers = {{"client_id", "1KAD46OrT9HafiKdsXeg"},
               {"sign", "9E48A3E93B302EEECC803C7241985D0A34EB944F40FB573C7B5C2A82158AF13E"},
               {"sign_method", "HMAC-SHA256"},
               {"t", "1588925778000"},
               {"nonce", "5138cc3a9033d69856923fd07b491173"},
               {"signature-headers", "area_id:call_id"},
               {"area_id", "29a33e8796834b1efa6"},
               {"call_id", "8afdb70ab2ed11eb85290242ac130003"}};
  return r;
}

int code_of(const Response& r) {
  json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("code") ? j["code"].get<int>() : 0;
}

}  // namespace

TEST_CASE("the fake verifies the reference's signing vectors") {
  FakeTimers clock(1588925778000);
  FakeCloud::Options o;
  o.client_id = "1KAD46OrT9HafiKdsXeg";
  o.secret = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC";
  FakeCloud cloud(clock, o);
  populate_demo(cloud);

  Response ok = cloud.handle(doc_token_request());
  json j = json::parse(ok.body);
  CHECK(j["success"] == true);
  CHECK(j["result"]["expire_time"] == 7200);
  CHECK(cloud.grants() == 1);

  Request no_nonce;
  no_nonce.method = "GET";
  no_nonce.path = "/v1.0/token";
  no_nonce.query = {{"grant_type", "1"}};
  no_nonce.headers = {{"client_id", o.client_id},
                      {"sign", "7BA26C076E5ECB1E959BE274A0FFB397B2B1865FC7BCED8F1C78AC5653C20CAA"},
                      {"sign_method", "HMAC-SHA256"},
                      {"t", "1588925778000"}};
  CHECK(json::parse(cloud.handle(no_nonce).body)["success"] == true);

  SUBCASE("tampered signed header") {
    Request r = doc_token_request();
    r.headers["call_id"] = "something-else";
    CHECK(code_of(cloud.handle(r)) == 1004);
    CHECK(cloud.sign_rejects() == 1);
  }
  SUBCASE("missing header") {
    Request r = doc_token_request();
    r.headers.erase("sign");
    CHECK(code_of(cloud.handle(r)) == 1105);
  }
  SUBCASE("stale timestamp") {
    clock.advance(11 * 60 * 1000);
    CHECK(code_of(cloud.handle(doc_token_request())) == 1013);
  }
  SUBCASE("unknown client id") {
    Request r = doc_token_request();
    r.headers["client_id"] = "other";
    CHECK(code_of(cloud.handle(r)) == 1005);
  }
  SUBCASE("business call without a token, and with an unknown token") {
    Request r;
    r.method = "GET";
    r.path = "/v1.0/devices/vdevo123456789";
    r.headers = {{"client_id", o.client_id},
                 {"sign", "E643831C0C6DB2EACF2171C569008B56BE0CA5D2B87F59C3F4443AC6B4DE7DF4"},
                 {"sign_method", "HMAC-SHA256"},
                 {"t", "1588925778000"}};
    CHECK(code_of(cloud.handle(r)) == 1002);
    r.headers["access_token"] = "3f4eda2bdec17232f67c0b188af3eec1";
    CHECK(code_of(cloud.handle(r)) == 1011);  // signature fine (the §1.4 vector), token unknown to the fake
    CHECK(cloud.sign_rejects() == 0);
  }
}

TEST_CASE("target parsing decodes the query") {
  std::string path;
  cloud::KeyValues q;
  REQUIRE(parse_target("http://127.0.0.1:1/v1.0/x?a=1%2C2&b=c%20d&flag", path, q));
  CHECK(path == "/v1.0/x");
  REQUIRE(q.size() == 3);
  CHECK(q[0].second == "1,2");
  CHECK(q[1].second == "c d");
  CHECK(q[2].first == "flag");
  CHECK_FALSE(parse_target("no-slash", path, q));
  CHECK(url_decode("%zz%41") == "%zzA");
}

}  // namespace t2m_fake_cloud_test
