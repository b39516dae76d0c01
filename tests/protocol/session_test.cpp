#include "protocol/session.h"

#include <doctest/doctest.h>

#include "protocol/crypto.h"
#include "protocol/message.h"
#include "test_util.h"
#include "vectors.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_session_test {

using namespace t2m;
using namespace t2m::proto;
using namespace t2m::proto::testing;
namespace v = t2m::proto::vectors;

TEST_CASE("session keys from the §9.5 / §9.6 nonces") {
  auto k34 = derive_session_key(Version::V3_4, B(v::K), B(v::NC), B(v::ND));
  REQUIRE(k34);
  CHECK(hex(*k34) == v::V34_SESSION_KEY);
  auto k35 = derive_session_key(Version::V3_5, B(v::K), B(v::NC), B(v::ND));
  REQUIRE(k35);
  CHECK(hex(*k35) == v::V35_SESSION_KEY);
  CHECK(code_of(derive_session_key(Version::V3_3, B(v::K), B(v::NC), B(v::ND))) == ErrorCode::BAD_ARGUMENT);
  CHECK(code_of(derive_session_key(Version::V3_4, B("short"), B(v::NC), B(v::ND))) ==
        ErrorCode::BAD_ARGUMENT);
  CHECK(code_of(derive_session_key(Version::V3_4, B(v::K), B("short"), B(v::ND))) == ErrorCode::BAD_ARGUMENT);
  CHECK(code_of(derive_session_key(Version::V3_4, B(v::K), B(v::NC), B("short"))) == ErrorCode::BAD_ARGUMENT);
}

TEST_CASE("3.4 client handshake reproduces the §9.5 transcript") {
  ClientHandshake c(Version::V3_4, B(v::K), B(v::NC));
  auto start = c.start(1);
  REQUIRE(start);
  CHECK(hex(*start) == v::V34_START);
  CHECK_FALSE(c.done());
  auto finish = c.on_response(H(v::V34_RESP), 2);
  REQUIRE(finish);
  CHECK(hex(*finish) == v::V34_FINISH);
  REQUIRE(c.done());
  CHECK(hex(c.session_key()) == v::V34_SESSION_KEY);
  CHECK(code_of(c.on_response(H(v::V34_RESP), 3)) == ErrorCode::HANDSHAKE);
}

TEST_CASE("3.4 device handshake reproduces the §9.5 transcript") {
  DeviceHandshake d(Version::V3_4, B(v::K), B(v::ND));
  auto resp = d.on_start(H(v::V34_START), 1);
  REQUIRE(resp);
  CHECK(hex(*resp) == v::V34_RESP);
  CHECK_FALSE(d.done());
  auto fin = d.on_finish(H(v::V34_FINISH));
  REQUIRE(fin.ok());
  REQUIRE(d.done());
  CHECK(hex(d.session_key()) == v::V34_SESSION_KEY);
  CHECK(code_of(d.on_finish(H(v::V34_FINISH))) == ErrorCode::HANDSHAKE);
}

TEST_CASE("3.5 client handshake reproduces the §9.6 transcript") {
  ClientHandshake c(Version::V3_5, B(v::K), B(v::NC));
  auto start = c.start(1, B("IVclient0001"));
  REQUIRE(start);
  CHECK(hex(*start) == v::V35_START);
  auto finish = c.on_response(H(v::V35_RESP), 2, B("IVclient0002"));
  REQUIRE(finish);
  CHECK(hex(*finish) == v::V35_FINISH);
  REQUIRE(c.done());
  CHECK(hex(c.session_key()) == v::V35_SESSION_KEY);
}

TEST_CASE("3.5 device handshake reproduces the §9.6 transcript") {
  DeviceHandshake d(Version::V3_5, B(v::K), B(v::ND));
  auto resp = d.on_start(H(v::V35_START), 1, B("IVdevice0001"));
  REQUIRE(resp);
  CHECK(hex(*resp) == v::V35_RESP);
  REQUIRE(d.on_finish(H(v::V35_FINISH)).ok());
  REQUIRE(d.done());
  CHECK(hex(d.session_key()) == v::V35_SESSION_KEY);
}

TEST_CASE("the transcript frames carry the documented plaintexts") {
  MessageCodec dev34(Role::DEVICE, Version::V3_4, B(v::K));
  auto start = dev34.open(H(v::V34_START));
  REQUIRE(start);
  CHECK(str(start->payload) == v::NC);
  auto fin = dev34.open(H(v::V34_FINISH));
  REQUIRE(fin);
  CHECK(hex(fin->payload) == v::HMAC_K_ND);
  MessageCodec cli35(Role::CLIENT, Version::V3_5, B(v::K));
  auto resp = cli35.open(H(v::V35_RESP));
  REQUIRE(resp);
  CHECK(resp->retcode == std::optional<uint32_t>(0));
  CHECK(hex(resp->payload) == hex(B(v::ND)) + std::string(v::HMAC_K_NC));
}

TEST_CASE("a wrong local key is WRONG_KEY on both sides") {
  const auto wrong = B("fedcba9876543210");
  for (auto ver : {Version::V3_4, Version::V3_5}) {
    CAPTURE(to_string(ver));
    const bool v35 = ver == Version::V3_5;
    auto resp = H(v35 ? v::V35_RESP : v::V34_RESP);
    auto start = H(v35 ? v::V35_START : v::V34_START);
    auto finish = H(v35 ? v::V35_FINISH : v::V34_FINISH);
    auto iv = v35 ? B("IVclient0001") : Bytes{};

    ClientHandshake c(ver, wrong, B(v::NC));
    REQUIRE(c.start(1, iv));
    CHECK(code_of(c.on_response(resp, 2, iv)) == ErrorCode::WRONG_KEY);
    CHECK_FALSE(c.done());

    DeviceHandshake d(ver, wrong, B(v::ND));
    CHECK(code_of(d.on_start(start, 1, iv)) == ErrorCode::WRONG_KEY);

    // Device with the right key but a FINISH computed over another device nonce.
    DeviceHandshake d2(ver, B(v::K), B("0000000000000000"));
    REQUIRE(d2.on_start(start, 1, iv));
    CHECK(code_of(d2.on_finish(finish)) == ErrorCode::WRONG_KEY);
    CHECK_FALSE(d2.done());

    // Reply framed with the right key, but HMAC(K, Nc) over another client nonce.
    ClientHandshake c2(ver, B(v::K), B("aaaaaaaaaaaaaaaa"));
    REQUIRE(c2.start(1, iv));
    CHECK(code_of(c2.on_response(resp, 2, iv)) == ErrorCode::WRONG_KEY);
  }
}

TEST_CASE("handshake order and shape errors") {
  ClientHandshake c(Version::V3_4, B(v::K), B(v::NC));
  CHECK(code_of(c.on_response(H(v::V34_RESP), 2)) == ErrorCode::HANDSHAKE);  // before start
  REQUIRE(c.start(1));
  CHECK(code_of(c.start(1)) == ErrorCode::HANDSHAKE);  // twice
  // A frame with the wrong command (the device's START echo) is a handshake error.
  MessageCodec dev(Role::DEVICE, Version::V3_4, B(v::K));
  auto other = dev.seal(0x08, B(std::string(48, 'x')), 1);
  REQUIRE(other);
  CHECK(code_of(c.on_response(*other, 2)) == ErrorCode::HANDSHAKE);
  auto short_resp = dev.seal(0x04, B("0123456789"), 1);
  REQUIRE(short_resp);
  CHECK(code_of(c.on_response(*short_resp, 2)) == ErrorCode::HANDSHAKE);

  DeviceHandshake d(Version::V3_4, B(v::K), B(v::ND));
  CHECK(code_of(d.on_finish(H(v::V34_FINISH))) == ErrorCode::HANDSHAKE);    // before start
  CHECK(code_of(d.on_start(H(v::V34_FINISH), 1)) == ErrorCode::HANDSHAKE);  // FINISH instead of START
  CHECK(code_of(d.on_start(ByteView(H(v::V34_START)).first(30), 1)) == ErrorCode::TRUNCATED);

  ClientHandshake bad_version(Version::V3_3, B(v::K), B(v::NC));
  CHECK(code_of(bad_version.start(1)) == ErrorCode::BAD_ARGUMENT);
  ClientHandshake bad_nonce(Version::V3_4, B(v::K), B("short"));
  CHECK(code_of(bad_nonce.start(1)) == ErrorCode::BAD_ARGUMENT);
  ClientHandshake no_iv(Version::V3_5, B(v::K), B(v::NC));
  CHECK(code_of(no_iv.start(1)) == ErrorCode::BAD_ARGUMENT);
  DeviceHandshake bad_key(Version::V3_5, B("k"), B(v::ND));
  CHECK(code_of(bad_key.on_start(H(v::V35_START), 1, B("IVdevice0001"))) == ErrorCode::BAD_ARGUMENT);
}

TEST_CASE("round trip: client and device state machines agree for many nonces, then talk") {
  for (auto ver : {Version::V3_4, Version::V3_5}) {
    for (int i = 0; i < 20; ++i) {
      Bytes nc(16), nd(16), iv(12);
      for (int j = 0; j < 16; ++j) {
        nc[j] = static_cast<uint8_t>(i * 31 + j * 7);
        nd[j] = static_cast<uint8_t>(i * 17 + j * 13 + 1);
      }
      for (int j = 0; j < 12; ++j) iv[j] = static_cast<uint8_t>(i + j);
      ClientHandshake c(ver, B(v::K), nc);
      DeviceHandshake d(ver, B(v::K), nd);
      auto s = c.start(1, iv);
      REQUIRE(s);
      auto r = d.on_start(*s, 1, iv);
      REQUIRE(r);
      auto f = c.on_response(*r, 2, iv);
      REQUIRE(f);
      REQUIRE(d.on_finish(*f).ok());
      REQUIRE(c.done());
      REQUIRE(d.done());
      CHECK(c.session_key() == d.session_key());
      CHECK(c.session_key().size() == 16);

      MessageCodec cc(Role::CLIENT, ver, B(v::K));
      MessageCodec dc(Role::DEVICE, ver, B(v::K));
      cc.set_session_key(c.session_key());
      dc.set_session_key(d.session_key());
      auto q = cc.encode(0x10, "{}", 3, iv);
      REQUIRE(q);
      auto got = dc.decode(*q);
      REQUIRE(got);
      CHECK(got->payload == "{}");
    }
  }
}

}  // namespace t2m_session_test
