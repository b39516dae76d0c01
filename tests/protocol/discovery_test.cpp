#include "protocol/discovery.h"

#include <doctest/doctest.h>

#include "protocol/crypto.h"
#include "protocol/frame.h"
#include "test_util.h"
#include "vectors.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_discovery_test {

using namespace t2m;
using namespace t2m::proto;
using namespace t2m::proto::testing;
namespace v = t2m::proto::vectors;
using nlohmann::json;

namespace {
ByteView udp_key() {
  return ByteView(UDP_KEY, sizeof(UDP_KEY));
}
}  // namespace

TEST_CASE("§9.7 real 6667 broadcast decodes, and the simulator encoder reproduces it") {
  auto a = decode_discovery(H(v::BCAST33_REAL));
  REQUIRE(a);
  CHECK(a->ip == "192.168.188.120");
  CHECK(a->gw_id == "bf3f795ce962dadfd88hx5");
  CHECK(a->product_key == "keyjup78v54myhan");
  CHECK(a->version == std::optional<Version>(Version::V3_3));
  CHECK(a->encrypt);
  CHECK(a->active == 2);
  CHECK_FALSE(a->from_app);
  CHECK(a->raw == json::parse(v::BCAST33_REAL_JSON));
  CHECK(to_hex(encode_broadcast_text(Version::V3_3, v::BCAST33_REAL_JSON), true) == v::BCAST33_REAL);
}

TEST_CASE("§9.7 constructed 3.5 broadcast, both directions") {
  auto a = decode_discovery(H(v::BCAST35));
  REQUIRE(a);
  CHECK(a->ip == "192.168.1.50");
  CHECK(a->gw_id == "eb0123456789abcdefghij");
  CHECK(a->version == std::optional<Version>(Version::V3_5));
  CHECK(a->raw["token"] == true);
  CHECK(hex(encode_broadcast_text(Version::V3_5, v::BCAST35_JSON, B(v::BCAST35_IV), 1)) == v::BCAST35);
  CHECK(encode_broadcast_text(Version::V3_5, v::BCAST35_JSON).empty());  // no IV
}

TEST_CASE("§9.7 client discovery request to :7000") {
  auto req = encode_discovery_request("192.168.1.20", B(v::DISCOVERY_REQUEST_IV));
  CHECK(hex(req) == v::DISCOVERY_REQUEST);
  auto a = decode_discovery(req);
  REQUIRE(a);
  CHECK(a->from_app);
  CHECK(a->ip == "192.168.1.20");
  CHECK(a->gw_id.empty());
  auto f = decode_6699(req, udp_key(), Direction::TO_DEVICE);
  REQUIRE(f);
  CHECK(f->cmd == 0x25);
  CHECK(str(f->payload) == R"({"from":"app","ip":"192.168.1.20"})");
}

TEST_CASE("broadcasts of every version round-trip through the decoder") {
  const json info = {{"ip", "10.0.0.7"}, {"gwId", "dev7"},     {"active", 2},
                     {"encrypt", true},  {"productKey", "pk"}, {"version", "3.1"}};
  for (auto ver : {Version::V3_1, Version::V3_2, Version::V3_3, Version::V3_4, Version::V3_5}) {
    json j = info;
    j["version"] = std::string(to_string(ver));
    auto bytes = encode_broadcast(ver, j, B("bcastIV00001"));
    REQUIRE_FALSE(bytes.empty());
    auto a = decode_discovery(bytes);
    REQUIRE(a);
    CHECK(a->gw_id == "dev7");
    CHECK(a->version == std::optional<Version>(ver));
    CHECK(a->raw == j);
  }
  // 3.1 is plaintext JSON on the wire.
  auto plain = encode_broadcast(Version::V3_1, info);
  auto f = decode_55aa(plain, Integrity::CRC32, {}, Direction::FROM_DEVICE);
  REQUIRE(f);
  CHECK(f->payload.front() == '{');
}

TEST_CASE("headerless datagrams: bare ECB blob and bare JSON") {
  auto f = decode_55aa(H(v::BCAST33_REAL), Integrity::CRC32, {}, Direction::FROM_DEVICE);
  REQUIRE(f);
  auto a = decode_discovery(f->payload);  // the ECB blob alone
  REQUIRE(a);
  CHECK(a->gw_id == "bf3f795ce962dadfd88hx5");
  auto b = decode_discovery(as_bytes(v::BCAST35_JSON));
  REQUIRE(b);
  CHECK(b->gw_id == "eb0123456789abcdefghij");
}

TEST_CASE("6699 broadcast without the retcode word, and trailing NULs") {
  Frame f;
  f.cmd = 0x13;
  f.payload = B(std::string(v::BCAST35_JSON) + std::string(3, '\0'));
  auto a = decode_discovery(encode_6699(f, udp_key(), B("udpbcastIV02")));
  REQUIRE(a);
  CHECK(a->gw_id == "eb0123456789abcdefghij");
}

TEST_CASE("an ECB broadcast whose ciphertext starts with '{' is still decrypted") {
  // Found by fuzz_discovery: the plaintext-or-ciphertext decision must not rest on the first byte alone.
  int found = 0;
  for (int n = 0; n < 5000 && found < 3; ++n) {
    const std::string info = R"({"gwId":"dev)" + std::to_string(n) + R"(","version":"3.3"})";
    auto bytes = encode_broadcast_text(Version::V3_3, info);
    auto f = decode_55aa(bytes, Integrity::CRC32, {}, Direction::FROM_DEVICE);
    REQUIRE(f);
    if (f->payload.front() != '{') continue;
    ++found;
    auto a = decode_discovery(bytes);
    REQUIRE(a);
    CHECK(a->gw_id == "dev" + std::to_string(n));
  }
  CHECK(found == 3);
}

TEST_CASE("discovery errors") {
  SUBCASE("CRC") {
    auto bad = H(v::BCAST33_REAL);
    bad[bad.size() - 6] ^= 1;
    CHECK(code_of(decode_discovery(bad)) == ErrorCode::BAD_CRC);
  }
  SUBCASE("GCM tag") {
    auto bad = H(v::BCAST35);
    bad[bad.size() - 6] ^= 1;
    CHECK(code_of(decode_discovery(bad)) == ErrorCode::BAD_TAG);
  }
  SUBCASE("truncated") {
    auto good = H(v::BCAST35);
    CHECK(code_of(decode_discovery(ByteView(good).first(100))) == ErrorCode::TRUNCATED);
  }
  SUBCASE("garbage") {
    CHECK(code_of(decode_discovery(B("hello"))) == ErrorCode::BAD_PREFIX);
    CHECK(code_of(decode_discovery({})) == ErrorCode::BAD_PREFIX);
  }
  SUBCASE("wrong key") {
    Frame f;
    f.cmd = 0x13;
    f.retcode = 0;
    f.payload = crypto::aes_ecb_encrypt(B(v::K), as_bytes(v::BCAST35_JSON)).value();
    CHECK(code_of(decode_discovery(encode_55aa(f, Integrity::CRC32))) == ErrorCode::BAD_PADDING);
  }
  SUBCASE("not JSON / no gwId") {
    CHECK(code_of(decode_discovery(encode_broadcast_text(Version::V3_3, "not json at all"))) ==
          ErrorCode::NOT_JSON);
    CHECK(code_of(decode_discovery(encode_broadcast_text(Version::V3_3, R"({"ip":"1.2.3.4"})"))) ==
          ErrorCode::NOT_JSON);
    CHECK(code_of(decode_discovery(encode_broadcast_text(Version::V3_3, "[1,2]"))) == ErrorCode::NOT_JSON);
  }
  SUBCASE("odd field types are tolerated") {
    auto a = decode_discovery(encode_broadcast_text(
        Version::V3_3, R"({"gwId":"x","ip":5,"active":"2","encrypt":1,"version":3.3})"));
    REQUIRE(a);
    CHECK(a->gw_id == "x");
    CHECK(a->ip.empty());
    CHECK(a->active == 0);
    CHECK_FALSE(a->encrypt);
    CHECK_FALSE(a->version);
  }
}

}  // namespace t2m_discovery_test
