#include "protocol/frame.h"

#include <doctest/doctest.h>

#include "protocol/crypto.h"
#include "test_util.h"
#include "vectors.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_frame_test {

using namespace t2m;
using namespace t2m::proto;
using namespace t2m::proto::testing;
namespace v = t2m::proto::vectors;

namespace {

Frame make(uint32_t seq, uint32_t cmd, std::optional<uint32_t> ret, std::string_view payload) {
  Frame f;
  f.seqno = seq;
  f.cmd = cmd;
  f.retcode = ret;
  f.payload = B(payload);
  return f;
}

}  // namespace

TEST_CASE("55AA CRC frames reproduce the real v3.1 captures byte for byte") {
  auto req = encode_55aa(make(1, 0x0A, std::nullopt, v::PR177_REQUEST_JSON), Integrity::CRC32);
  CHECK(hex(req) == v::PR177_REQUEST);
  auto reply = encode_55aa(make(1, 0x0A, 0, v::PR177_REPLY_JSON), Integrity::CRC32);
  CHECK(hex(reply) == v::PR177_REPLY);
  CHECK(hex(encode_55aa(make(0, 0x07, 0, ""), Integrity::CRC32)) == v::ACK_CONTROL);
  CHECK(hex(encode_55aa(make(0, 0x09, 0, ""), Integrity::CRC32)) == v::ACK_HEARTBEAT);

  auto d = decode_55aa(H(v::PR177_REPLY), Integrity::CRC32, {}, Direction::FROM_DEVICE);
  REQUIRE(d);
  CHECK(d->seqno == 1);
  CHECK(d->cmd == 0x0A);
  CHECK(d->retcode == std::optional<uint32_t>(0));
  CHECK(str(d->payload) == v::PR177_REPLY_JSON);

  auto q = decode_55aa(H(v::PR177_REQUEST), Integrity::CRC32, {}, Direction::TO_DEVICE);
  REQUIRE(q);
  CHECK_FALSE(q->retcode);
  CHECK(str(q->payload) == v::PR177_REQUEST_JSON);
}

TEST_CASE("55AA device frames without a retcode decode by the upper-24-bits heuristic") {
  // A stub sends "3.3..." or "{" right after the header: those words have upper bits set.
  for (std::string_view payload :
       {std::string_view("{\"dps\":{}}"), std::string_view("3.3\0\0\0\0abc", 10)}) {
    auto bytes = encode_55aa(make(3, 8, std::nullopt, payload), Integrity::CRC32);
    auto d = decode_55aa(bytes, Integrity::CRC32, {}, Direction::FROM_DEVICE);
    REQUIRE(d);
    CHECK_FALSE(d->retcode);
    CHECK(str(d->payload) == payload);
  }
  // retcode 1 (device error) is recognised as a retcode.
  auto bytes = encode_55aa(make(3, 8, 1, "json obj data unvalid"), Integrity::CRC32);
  auto d = decode_55aa(bytes, Integrity::CRC32, {}, Direction::FROM_DEVICE);
  REQUIRE(d);
  CHECK(d->retcode == std::optional<uint32_t>(1));
  CHECK(str(d->payload) == "json obj data unvalid");
}

TEST_CASE("55AA HMAC frames: round trip, the 3.4 ACK vector, tamper detection") {
  auto sk = H(v::V34_SESSION_KEY);
  auto ack = encode_55aa(make(4, 0x0D, 0, ""), Integrity::HMAC_SHA256, sk);
  CHECK(hex(ack) == v::V34_ACK);
  auto d = decode_55aa(ack, Integrity::HMAC_SHA256, sk, Direction::FROM_DEVICE);
  REQUIRE(d);
  CHECK(d->payload.empty());
  CHECK(d->retcode == std::optional<uint32_t>(0));

  for (size_t i = 0; i < ack.size() - 4; ++i) {  // any flipped byte before the suffix breaks the HMAC
    auto bad = ack;
    bad[i] ^= 0x01;
    auto r = decode_55aa(bad, Integrity::HMAC_SHA256, sk, Direction::FROM_DEVICE);
    CHECK_FALSE(r.ok());
  }
  auto bad = ack;
  bad[ack.size() - 10] ^= 0x80;  // inside the HMAC
  CHECK(code_of(decode_55aa(bad, Integrity::HMAC_SHA256, sk, Direction::FROM_DEVICE)) == ErrorCode::BAD_HMAC);
  CHECK(code_of(decode_55aa(ack, Integrity::HMAC_SHA256, B(v::K), Direction::FROM_DEVICE)) ==
        ErrorCode::BAD_HMAC);
  CHECK(code_of(decode_55aa(ack, Integrity::HMAC_SHA256, {}, Direction::FROM_DEVICE)) ==
        ErrorCode::BAD_ARGUMENT);
}

TEST_CASE("55AA corrupt input gives the matching error code") {
  auto good = H(v::PR177_REPLY);
  SUBCASE("CRC byte") {
    auto bad = good;
    bad[bad.size() - 6] ^= 0x01;
    CHECK(code_of(decode_55aa(bad, Integrity::CRC32, {}, Direction::FROM_DEVICE)) == ErrorCode::BAD_CRC);
  }
  SUBCASE("payload byte") {
    auto bad = good;
    bad[30] ^= 0x20;
    CHECK(code_of(decode_55aa(bad, Integrity::CRC32, {}, Direction::FROM_DEVICE)) == ErrorCode::BAD_CRC);
  }
  SUBCASE("suffix") {
    auto bad = good;
    bad.back() = 0x56;
    CHECK(code_of(decode_55aa(bad, Integrity::CRC32, {}, Direction::FROM_DEVICE)) == ErrorCode::BAD_SUFFIX);
  }
  SUBCASE("prefix") {
    auto bad = good;
    bad[2] = 0x66;
    CHECK(code_of(decode_55aa(bad, Integrity::CRC32, {}, Direction::FROM_DEVICE)) == ErrorCode::BAD_PREFIX);
  }
  SUBCASE("truncated body and header") {
    for (size_t n : {size_t{0}, size_t{3}, size_t{15}, size_t{16}, good.size() - 1}) {
      CHECK(code_of(decode_55aa(ByteView(good).first(n), Integrity::CRC32, {}, Direction::FROM_DEVICE)) ==
            ErrorCode::TRUNCATED);
    }
  }
  SUBCASE("trailing bytes") {
    auto bad = good;
    bad.push_back(0);
    CHECK(code_of(decode_55aa(bad, Integrity::CRC32, {}, Direction::FROM_DEVICE)) == ErrorCode::BAD_SUFFIX);
  }
  SUBCASE("oversize declared length") {
    auto bad = good;
    bad[12] = 0x7f;
    CHECK(code_of(decode_55aa(bad, Integrity::CRC32, {}, Direction::FROM_DEVICE)) == ErrorCode::OVERSIZE);
  }
  SUBCASE("declared length too small for the check") {
    auto bad = good;
    bad[12] = bad[13] = bad[14] = 0;
    bad[15] = 7;
    CHECK(code_of(decode_55aa(bad, Integrity::CRC32, {}, Direction::FROM_DEVICE)) == ErrorCode::TRUNCATED);
  }
}

TEST_CASE("6699 frames reproduce the 3.5 vectors and reject tampering") {
  auto sk = H(v::V35_SESSION_KEY);
  Frame q = make(3, 0x10, std::nullopt, "{}");
  auto bytes = encode_6699(q, sk, B("IVclient0003"));
  CHECK(hex(bytes) == v::V35_QUERY);

  auto d = decode_6699(H(v::V35_STATUS), sk, Direction::FROM_DEVICE);
  REQUIRE(d);
  CHECK(d->seqno == 7);
  CHECK(d->cmd == 8);
  CHECK(d->retcode == std::optional<uint32_t>(0));
  CHECK(str(d->payload) == std::string("3.5") + std::string(12, '\0') + std::string(v::STATUS_NEW_JSON));

  // Re-encoding the decoded frame with the same IV gives the same bytes (device side).
  CHECK(hex(encode_6699(*d, sk, B("IVdevice0002"))) == v::V35_STATUS);

  auto good = H(v::V35_STATUS);
  for (size_t i : {size_t{5}, size_t{9}, size_t{13}, size_t{20}, size_t{40}, good.size() - 5}) {
    auto bad = good;
    bad[i] ^= 0x01;  // reserved/seq/cmd (AAD), IV, ciphertext, tag
    CHECK(code_of(decode_6699(bad, sk, Direction::FROM_DEVICE)) == ErrorCode::BAD_TAG);
  }
  CHECK(code_of(decode_6699(good, B(v::K), Direction::FROM_DEVICE)) == ErrorCode::BAD_TAG);
  CHECK(code_of(decode_6699(ByteView(good).first(good.size() - 1), sk, Direction::FROM_DEVICE)) ==
        ErrorCode::TRUNCATED);
  auto bad = good;
  bad[good.size() - 1] = 0;
  CHECK(code_of(decode_6699(bad, sk, Direction::FROM_DEVICE)) == ErrorCode::BAD_SUFFIX);
  bad = good;
  bad[14] = 0x10;
  CHECK(code_of(decode_6699(bad, sk, Direction::FROM_DEVICE)) == ErrorCode::OVERSIZE);
  bad = good;
  bad[1] = 1;
  CHECK(code_of(decode_6699(bad, sk, Direction::FROM_DEVICE)) == ErrorCode::BAD_PREFIX);
  CHECK(code_of(decode_6699(good, B("short"), Direction::FROM_DEVICE)) == ErrorCode::BAD_ARGUMENT);
  CHECK(encode_6699(q, sk, B("short")).empty());
  CHECK(encode_6699(q, B("short"), B("IVclient0003")).empty());
}

TEST_CASE("6699 device frames that omit the retcode") {
  auto sk = H(v::V35_SESSION_KEY);
  auto bytes = encode_6699(make(1, 8, std::nullopt, "{\"dps\":{}}"), sk, B("IVdevice0009"));
  auto d = decode_6699(bytes, sk, Direction::FROM_DEVICE);
  REQUIRE(d);
  CHECK_FALSE(d->retcode);
  CHECK(str(d->payload) == "{\"dps\":{}}");
}

TEST_CASE("round trip property over sizes, directions and integrities") {
  auto key = B(v::K);
  for (size_t n = 0; n < 70; ++n) {
    std::string payload(n, '\0');
    for (size_t i = 0; i < n; ++i) payload[i] = static_cast<char>('A' + (i * 7 + n) % 50);
    for (auto ret : {std::optional<uint32_t>(), std::optional<uint32_t>(0), std::optional<uint32_t>(1)}) {
      const Direction dir = ret ? Direction::FROM_DEVICE : Direction::TO_DEVICE;
      Frame f = make(static_cast<uint32_t>(n * 977), 0x08, ret, payload);
      for (auto integ : {Integrity::CRC32, Integrity::HMAC_SHA256}) {
        auto d = decode_55aa(encode_55aa(f, integ, key), integ, key, dir);
        REQUIRE(d);
        CHECK(d->seqno == f.seqno);
        CHECK(d->retcode == f.retcode);
        CHECK(d->payload == f.payload);
      }
      auto d = decode_6699(encode_6699(f, key, B("abcdefghijkl")), key, dir);
      REQUIRE(d);
      CHECK(d->seqno == f.seqno);
      CHECK(d->retcode == f.retcode);
      CHECK(d->payload == f.payload);
    }
  }
}

TEST_CASE("peek_header reads both kinds without verifying") {
  auto p = peek_header(H(v::V34_START));
  REQUIRE(p);
  CHECK_FALSE(p->is_6699);
  CHECK(p->seqno == 1);
  CHECK(p->cmd == 3);
  CHECK(p->length == 0x44);
  p = peek_header(H(v::V35_STATUS));
  REQUIRE(p);
  CHECK(p->is_6699);
  CHECK(p->seqno == 7);
  CHECK(p->cmd == 8);
  CHECK(p->length == 0x66);
  CHECK_FALSE(peek_header(ByteView(H(v::V35_STATUS)).first(17)));
  CHECK_FALSE(peek_header(B("garbage garbage garbage")));
}

// ---- FrameSplitter ----

namespace {

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<std::string> drain(FrameSplitter& s, std::vector<ErrorCode>* errors = nullptr) {
  std::vector<std::string> frames;
  while (auto r = s.next()) {
    if (r->ok()) {
      frames.push_back(hex(r->value()));
    } else if (errors) {
      errors->push_back(r->error().code);
    }
  }
  return frames;
}

}  // namespace

TEST_CASE("splitter: byte-by-byte feeding yields every frame once") {
  auto stream = concat({H(v::V34_ACK), H(v::V35_STATUS), H(v::V33_STATUS), H(v::ACK_HEARTBEAT)});
  FrameSplitter s;
  std::vector<std::string> frames;
  for (uint8_t b : stream) {
    s.feed(ByteView(&b, 1));
    auto got = drain(s);
    frames.insert(frames.end(), got.begin(), got.end());
  }
  REQUIRE(frames.size() == 4);
  CHECK(frames[0] == v::V34_ACK);
  CHECK(frames[1] == v::V35_STATUS);
  CHECK(frames[2] == v::V33_STATUS);
  CHECK(frames[3] == v::ACK_HEARTBEAT);
  CHECK(s.buffered() == 0);
  CHECK(s.skipped_bytes() == 0);
}

TEST_CASE("splitter: many frames in one feed, and split at every position") {
  auto a = H(v::V34_ACK);
  auto b = H(v::V34_STATUS);
  auto stream = concat({a, b, a, b, a});
  FrameSplitter s;
  s.feed(stream);
  auto frames = drain(s);
  REQUIRE(frames.size() == 5);
  CHECK(frames[1] == v::V34_STATUS);
  CHECK(frames[4] == v::V34_ACK);

  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameSplitter t;
    t.feed(ByteView(stream).first(cut));
    auto got = drain(t);
    t.feed(ByteView(stream).subspan(cut));
    auto rest = drain(t);
    got.insert(got.end(), rest.begin(), rest.end());
    CHECK(got.size() == 5);
  }
}

TEST_CASE("splitter: garbage before a prefix is skipped and counted") {
  FrameSplitter s;
  auto garbage =
      B(std::string_view("HTTP/1.1 400 Bad Request\r\n\x00\x00\x55", 29));  // ends with a partial prefix
  s.feed(garbage);
  CHECK_FALSE(s.next());
  CHECK(s.buffered() <= 3);
  s.feed(concat({B("xx"), H(v::ACK_CONTROL)}));
  auto frames = drain(s);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0] == v::ACK_CONTROL);
  CHECK(s.skipped_bytes() == garbage.size() + 2);

  // A long run of garbage never accumulates.
  FrameSplitter g;
  Bytes noise(100000, 0x5A);
  g.feed(noise);
  CHECK_FALSE(g.next());
  CHECK(g.buffered() <= 3);
}

TEST_CASE("splitter: an oversize declared length is rejected without buffering, then resynchronised") {
  FrameSplitter s;
  Bytes huge = H("000055aa00000001000000087fffffff");  // claims ~2 GB
  s.feed(huge);
  auto r = s.next();
  REQUIRE(r);
  REQUIRE_FALSE(r->ok());
  CHECK(r->error().code == ErrorCode::OVERSIZE);
  CHECK(s.buffered() < 16);
  s.feed(H(v::V35_QUERY));
  auto frames = drain(s);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0] == v::V35_QUERY);

  FrameSplitter small(64);  // a custom bound
  small.feed(H(v::V34_STATUS));
  auto e = small.next();
  REQUIRE(e);
  REQUIRE_FALSE(e->ok());
  CHECK(e->error().code == ErrorCode::OVERSIZE);
}

TEST_CASE("splitter: a bad suffix is reported once and the following good frame still arrives") {
  auto bad = H(v::V33_STATUS);
  bad[bad.size() - 1] = 0x00;  // wrong suffix
  FrameSplitter s;
  s.feed(concat({bad, H(v::V33_QUERY_REPLY)}));
  std::vector<ErrorCode> errors;
  auto frames = drain(s, &errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == ErrorCode::BAD_SUFFIX);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0] == v::V33_QUERY_REPLY);

  // A frame whose declared length hides the next frame's prefix: resync finds it.
  auto lying = H(v::ACK_CONTROL);
  lying[15] = 0x30;  // length 48 instead of 12
  FrameSplitter t;
  t.feed(concat({lying, H(v::V34_STATUS)}));
  errors.clear();
  frames = drain(t, &errors);
  CHECK(errors.size() == 1);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0] == v::V34_STATUS);
}

TEST_CASE("splitter: declared length below the minimum and reset") {
  FrameSplitter s;
  s.feed(H("000055aa000000010000000800000004"));
  auto r = s.next();
  REQUIRE(r);
  REQUIRE_FALSE(r->ok());
  CHECK(r->error().code == ErrorCode::TRUNCATED);
  s.feed(ByteView(H(v::V34_ACK)).first(20));
  CHECK_FALSE(s.next());
  CHECK(s.buffered() > 0);
  s.reset();
  CHECK(s.buffered() == 0);
  s.feed(H(v::V34_ACK));
  auto frames = drain(s);
  REQUIRE(frames.size() == 1);
}

}  // namespace t2m_frame_test
