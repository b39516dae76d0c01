#include "protocol/message.h"

#include <doctest/doctest.h>

#include "protocol/crypto.h"
#include "test_util.h"
#include "vectors.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_message_test {

using namespace t2m;
using namespace t2m::proto;
using namespace t2m::proto::testing;
namespace v = t2m::proto::vectors;

namespace {

constexpr uint32_t CONTROL = 0x07, STATUS = 0x08, HEART_BEAT = 0x09, DP_QUERY = 0x0A, CONTROL_NEW = 0x0D,
                   DP_QUERY_NEW = 0x10, UPDATEDPS = 0x12;

std::string enc(const MessageCodec& c, uint32_t cmd, std::string_view json, uint32_t seq,
                std::string_view iv = {}, uint32_t ret = 0) {
  auto r = c.encode(cmd, json, seq, B(iv), ret);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().detail));
  return hex(*r);
}

Message dec(const MessageCodec& c, std::string_view frame_hex) {
  auto r = c.decode(H(frame_hex));
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().detail));
  return *r;
}

MessageCodec session(Role role, Version ver) {
  MessageCodec c(role, ver, B(v::K));
  c.set_session_key(H(ver == Version::V3_4 ? v::V34_SESSION_KEY : v::V35_SESSION_KEY));
  return c;
}

std::string header(std::string_view ver) {
  return std::string(ver) + std::string(12, '\0');
}

}  // namespace

TEST_CASE("§9.1 real v3.1 captures") {
  MessageCodec client(Role::CLIENT, Version::V3_1, B(v::K));
  MessageCodec device(Role::DEVICE, Version::V3_1, B(v::K));
  CHECK(enc(client, DP_QUERY, v::PR177_REQUEST_JSON, 1) == v::PR177_REQUEST);
  CHECK(dec(device, v::PR177_REQUEST).payload == v::PR177_REQUEST_JSON);
  auto reply = dec(client, v::PR177_REPLY);
  CHECK(reply.seqno == 1);
  CHECK(reply.cmd == DP_QUERY);
  CHECK(reply.retcode == std::optional<uint32_t>(0));
  CHECK(reply.payload == v::PR177_REPLY_JSON);
  CHECK(enc(device, DP_QUERY, v::PR177_REPLY_JSON, 1) == v::PR177_REPLY);
}

TEST_CASE("§9.1 empty ACKs decode as ACKs and the device role reproduces them") {
  for (auto ver : {Version::V3_1, Version::V3_2, Version::V3_3}) {
    MessageCodec client(Role::CLIENT, ver, B(v::K));
    MessageCodec device(Role::DEVICE, ver, B(v::K));
    auto ack = dec(client, v::ACK_CONTROL);
    CHECK(ack.is_ack());
    CHECK(ack.cmd == CONTROL);
    CHECK(ack.retcode == std::optional<uint32_t>(0));
    CHECK(dec(client, v::ACK_HEARTBEAT).is_ack());
    CHECK(enc(device, CONTROL, "", 0) == v::ACK_CONTROL);
    CHECK(enc(device, HEART_BEAT, "", 0) == v::ACK_HEARTBEAT);
  }
}

TEST_CASE(
    "§9.1 tuyapi's real v3.1 device message (MD5-signed base64) decodes, and the device role signs it") {
  MessageCodec client(Role::CLIENT, Version::V3_1, B(v::TUYAPI_31_KEY));
  Frame f;
  f.cmd = STATUS;
  f.retcode = 0;
  f.payload = B(v::TUYAPI_31_PAYLOAD);
  auto frame = encode_55aa(f, Integrity::CRC32);
  auto m = client.decode(frame);
  REQUIRE(m);
  CHECK(m->payload == v::TUYAPI_31_JSON);

  MessageCodec device(Role::DEVICE, Version::V3_1, B(v::TUYAPI_31_KEY));
  auto out = device.encode(STATUS, v::TUYAPI_31_JSON, 0);
  REQUIRE(out);
  CHECK(hex(*out) == hex(frame));
}

TEST_CASE("§9.2 real Tuya-app v3.3 CONTROL with a source header") {
  MessageCodec device(Role::DEVICE, Version::V3_3, B(v::APP33_KEY));
  auto m = dec(device, v::APP33_FRAME);
  CHECK(m.seqno == 6);
  CHECK(m.cmd == CONTROL);
  CHECK_FALSE(m.retcode);
  CHECK(m.payload == v::APP33_JSON);
}

TEST_CASE("§9.3 v3.1 client frames, both directions") {
  MessageCodec client(Role::CLIENT, Version::V3_1, B(v::K));
  MessageCodec device(Role::DEVICE, Version::V3_1, B(v::K));
  CHECK(enc(client, DP_QUERY, v::QUERY_JSON, 1) == v::V31_QUERY);
  auto control = enc(client, CONTROL, v::CONTROL_JSON, 2);
  CHECK(control == v::V31_CONTROL);
  auto f = decode_55aa(H(control), Integrity::CRC32, {}, Direction::TO_DEVICE);
  REQUIRE(f);
  CHECK(str(f->payload) == v::V31_CONTROL_PAYLOAD);
  CHECK(dec(device, v::V31_QUERY).payload == v::QUERY_JSON);
  auto c = dec(device, v::V31_CONTROL);
  CHECK(c.seqno == 2);
  CHECK(c.payload == v::CONTROL_JSON);
}

TEST_CASE("§9.4 v3.3 client frames") {
  MessageCodec client(Role::CLIENT, Version::V3_3, B(v::K));
  MessageCodec device(Role::DEVICE, Version::V3_3, B(v::K));
  CHECK(enc(client, DP_QUERY, v::QUERY_JSON, 1) == v::V33_QUERY);
  CHECK(enc(client, CONTROL, v::CONTROL_JSON, 2) == v::V33_CONTROL);
  CHECK(enc(client, HEART_BEAT, v::HEARTBEAT_JSON, 3) == v::V33_HEARTBEAT);
  CHECK(enc(client, UPDATEDPS, v::UPDATEDPS_JSON, 4) == v::V33_UPDATEDPS);
  CHECK(dec(device, v::V33_QUERY).payload == v::QUERY_JSON);
  CHECK(dec(device, v::V33_CONTROL).payload == v::CONTROL_JSON);
  CHECK(dec(device, v::V33_HEARTBEAT).payload == v::HEARTBEAT_JSON);
  auto u = dec(device, v::V33_UPDATEDPS);
  CHECK(u.seqno == 4);
  CHECK(u.cmd == UPDATEDPS);
  CHECK(u.payload == v::UPDATEDPS_JSON);
}

TEST_CASE("§9.4 device22 query") {
  MessageCodec client(Role::CLIENT, Version::V3_3, B(v::K), /*device22=*/true);
  CHECK(enc(client, CONTROL_NEW, v::DEVICE22_JSON, 1) == v::V33_DEVICE22_QUERY);
  MessageCodec device(Role::DEVICE, Version::V3_3, B(v::K), true);
  CHECK(dec(device, v::V33_DEVICE22_QUERY).payload == v::DEVICE22_JSON);
}

TEST_CASE("§9.4 v3.3 device frames: client decodes, device role encodes") {
  MessageCodec client(Role::CLIENT, Version::V3_3, B(v::K));
  MessageCodec device(Role::DEVICE, Version::V3_3, B(v::K));
  auto reply = dec(client, v::V33_QUERY_REPLY);
  CHECK(reply.seqno == 1);
  CHECK(reply.cmd == DP_QUERY);
  CHECK(reply.retcode == std::optional<uint32_t>(0));
  CHECK(reply.payload == v::V33_QUERY_REPLY_JSON);
  auto status = dec(client, v::V33_STATUS);
  CHECK(status.seqno == 0);
  CHECK(status.cmd == STATUS);
  CHECK(status.payload == v::V33_STATUS_JSON);
  CHECK(enc(device, DP_QUERY, v::V33_QUERY_REPLY_JSON, 1) == v::V33_QUERY_REPLY);
  CHECK(enc(device, STATUS, v::V33_STATUS_JSON, 0) == v::V33_STATUS);
}

TEST_CASE("device22 receive quirk: a 15-byte header that does not say 3.x is stripped by length") {
  MessageCodec device(Role::DEVICE, Version::V3_3, B(v::K));
  auto normal = device.encode(STATUS, v::V33_STATUS_JSON, 0);
  REQUIRE(normal);
  // Overwrite the clear "3.3" header with a source header that doesn't start with the version.
  auto f = decode_55aa(*normal, Integrity::CRC32, {}, Direction::FROM_DEVICE);
  REQUIRE(f);
  f->payload[0] = 'X';
  auto quirky = encode_55aa(*f, Integrity::CRC32);
  MessageCodec d22(Role::CLIENT, Version::V3_3, B(v::K), true);
  auto m = d22.decode(quirky);
  REQUIRE(m);
  CHECK(m->payload == v::V33_STATUS_JSON);
  MessageCodec plain(Role::CLIENT, Version::V3_3, B(v::K), false);
  CHECK(code_of(plain.decode(quirky)) == ErrorCode::BAD_PADDING);
}

TEST_CASE("a 3.3 ciphertext that happens to start with \"3.x\" is not mistaken for a version header") {
  // Whole blocks: block 1 is "3.3..." as ciphertext, block 2 a valid encryption of a full padding block.
  const Bytes c1 = B("3.3 looks like h");
  const Bytes pad_block(16, 0x10);
  Bytes payload = c1;
  auto c2 = crypto::aes_ecb_encrypt_raw(B(v::K), pad_block);
  REQUIRE(c2);
  payload.insert(payload.end(), c2->begin(), c2->end());
  Frame f;
  f.cmd = DP_QUERY;
  f.retcode = 0;
  f.payload = payload;
  MessageCodec client(Role::CLIENT, Version::V3_3, B(v::K));
  auto opened = client.open(encode_55aa(f, Integrity::CRC32));
  REQUIRE(opened);
  CHECK(hex(opened->payload) == hex(crypto::aes_ecb_decrypt_raw(B(v::K), c1).value()));
}

TEST_CASE("§9.5 v3.4 frames after the handshake") {
  auto client = session(Role::CLIENT, Version::V3_4);
  auto device = session(Role::DEVICE, Version::V3_4);
  CHECK(enc(client, DP_QUERY_NEW, "{}", 3) == v::V34_QUERY);
  CHECK(enc(client, CONTROL_NEW, v::CONTROL_NEW_JSON, 4) == v::V34_CONTROL);
  CHECK(enc(client, HEART_BEAT, v::HEARTBEAT_JSON, 5) == v::V34_HEARTBEAT);
  CHECK(dec(device, v::V34_QUERY).payload == "{}");
  CHECK(dec(device, v::V34_CONTROL).payload == v::CONTROL_NEW_JSON);
  CHECK(dec(device, v::V34_HEARTBEAT).payload == v::HEARTBEAT_JSON);

  auto ack = dec(client, v::V34_ACK);
  CHECK(ack.is_ack());
  CHECK(ack.cmd == CONTROL_NEW);
  CHECK(ack.seqno == 4);
  auto status = dec(client, v::V34_STATUS);
  CHECK(status.cmd == STATUS);
  CHECK(status.seqno == 5);
  CHECK(status.retcode == std::optional<uint32_t>(0));
  CHECK(status.payload == v::STATUS_NEW_JSON);
  CHECK(enc(device, CONTROL_NEW, "", 4) == v::V34_ACK);
  CHECK(enc(device, STATUS, v::STATUS_NEW_JSON, 5) == v::V34_STATUS);

  // The plaintext really carries the 3.4 header inside the ciphertext.
  auto f =
      decode_55aa(H(v::V34_CONTROL), Integrity::HMAC_SHA256, H(v::V34_SESSION_KEY), Direction::TO_DEVICE);
  REQUIRE(f);
  auto plain = crypto::aes_ecb_decrypt(H(v::V34_SESSION_KEY), f->payload);
  REQUIRE(plain);
  CHECK(str(*plain) == header("3.4") + std::string(v::CONTROL_NEW_JSON));
}

TEST_CASE("§9.6 v3.5 frames after the handshake") {
  auto client = session(Role::CLIENT, Version::V3_5);
  auto device = session(Role::DEVICE, Version::V3_5);
  CHECK(enc(client, DP_QUERY_NEW, "{}", 3, "IVclient0003") == v::V35_QUERY);
  CHECK(enc(client, CONTROL_NEW, v::CONTROL_NEW_JSON, 4, "IVclient0004") == v::V35_CONTROL);
  CHECK(dec(device, v::V35_QUERY).payload == "{}");
  CHECK(dec(device, v::V35_CONTROL).payload == v::CONTROL_NEW_JSON);
  auto status = dec(client, v::V35_STATUS);
  CHECK(status.seqno == 7);
  CHECK(status.cmd == STATUS);
  CHECK(status.retcode == std::optional<uint32_t>(0));
  CHECK(status.payload == v::STATUS_NEW_JSON);
  CHECK(enc(device, STATUS, v::STATUS_NEW_JSON, 7, "IVdevice0002") == v::V35_STATUS);
  auto raw = decode_6699(H(v::V35_CONTROL), H(v::V35_SESSION_KEY), Direction::TO_DEVICE);
  REQUIRE(raw);
  CHECK(str(raw->payload) == header("3.5") + std::string(v::CONTROL_NEW_JSON));
}

TEST_CASE("version headers follow the skip list") {
  for (uint32_t cmd : {0x0Au, 0x10u, 0x12u, 0x09u, 0x03u, 0x04u, 0x05u, 0x40u})
    CHECK_FALSE(takes_version_header(cmd));
  for (uint32_t cmd : {0x07u, 0x08u, 0x0Du, 0x11u, 0x00u}) CHECK(takes_version_header(cmd));
}

TEST_CASE("payload classification") {
  CHECK(classify_payload("") == PayloadKind::EMPTY);
  CHECK(classify_payload(v::V33_STATUS_JSON) == PayloadKind::JSON);
  CHECK(classify_payload(" {}") == PayloadKind::JSON);
  CHECK(classify_payload("json obj data unvalid") == PayloadKind::DEVICE_ERROR);
  CHECK(is_device22_error("json obj data unvalid"));
  CHECK_FALSE(is_device22_error("data format error"));
}

TEST_CASE("device error strings come back as payload text") {
  MessageCodec device(Role::DEVICE, Version::V3_3, B(v::K));
  MessageCodec client(Role::CLIENT, Version::V3_3, B(v::K));
  auto frame = device.encode(DP_QUERY, "json obj data unvalid", 1, {}, 1);
  REQUIRE(frame);
  auto m = client.decode(*frame);
  REQUIRE(m);
  CHECK(m->retcode == std::optional<uint32_t>(1));
  CHECK(m->payload == "json obj data unvalid");
  CHECK(classify_payload(m->payload) == PayloadKind::DEVICE_ERROR);

  // ... also when a device sends it in the clear.
  Frame f;
  f.cmd = DP_QUERY;
  f.retcode = 1;
  f.payload = B("data format error");
  auto clear = client.decode(encode_55aa(f, Integrity::CRC32));
  REQUIRE(clear);
  CHECK(clear->payload == "data format error");
}

TEST_CASE("corrupt input: every error code from the message layer") {
  MessageCodec c33(Role::CLIENT, Version::V3_3, B(v::K));
  auto c34 = session(Role::CLIENT, Version::V3_4);
  auto c35 = session(Role::CLIENT, Version::V3_5);
  const auto wrong = B("fedcba9876543210");

  SUBCASE("CRC") {
    auto bad = H(v::V33_STATUS);
    bad[bad.size() - 5] ^= 0xFF;
    CHECK(code_of(c33.decode(bad)) == ErrorCode::BAD_CRC);
  }
  SUBCASE("HMAC") {
    auto bad = H(v::V34_STATUS);
    bad[bad.size() - 5] ^= 0x01;
    CHECK(code_of(c34.decode(bad)) == ErrorCode::BAD_HMAC);
  }
  SUBCASE("GCM tag") {
    auto bad = H(v::V35_STATUS);
    bad[bad.size() - 5] ^= 0x01;
    CHECK(code_of(c35.decode(bad)) == ErrorCode::BAD_TAG);
  }
  SUBCASE("truncated") {
    auto bad = H(v::V33_STATUS);
    CHECK(code_of(c33.decode(ByteView(bad).first(40))) == ErrorCode::TRUNCATED);
    CHECK(code_of(c35.decode(ByteView(H(v::V35_STATUS)).first(60))) == ErrorCode::TRUNCATED);
  }
  SUBCASE("oversize") {
    auto bad = H(v::V33_STATUS);
    bad[12] = 0x01;
    CHECK(code_of(c33.decode(bad)) == ErrorCode::OVERSIZE);
  }
  SUBCASE("wrong key") {
    MessageCodec w33(Role::CLIENT, Version::V3_3, wrong);
    CHECK(code_of(w33.decode(H(v::V33_STATUS))) == ErrorCode::BAD_PADDING);
    MessageCodec w34(Role::CLIENT, Version::V3_4, B(v::K));
    w34.set_session_key(wrong);
    CHECK(code_of(w34.decode(H(v::V34_STATUS))) == ErrorCode::BAD_HMAC);
    MessageCodec w35(Role::CLIENT, Version::V3_5, B(v::K));
    w35.set_session_key(wrong);
    CHECK(code_of(w35.decode(H(v::V35_STATUS))) == ErrorCode::BAD_TAG);
  }
  SUBCASE("wrong version") {
    CHECK(code_of(c33.decode(H(v::V35_STATUS))) == ErrorCode::WRONG_VERSION);  // 6699 in a 3.3 session
    CHECK(code_of(c35.decode(H(v::V33_STATUS))) == ErrorCode::WRONG_VERSION);  // 55AA in a 3.5 session
    CHECK(code_of(c34.decode(H(v::V33_STATUS))) == ErrorCode::WRONG_VERSION);  // CRC in a 3.4 session
    MessageCodec d34(Role::DEVICE, Version::V3_4, B(v::K));
    auto frame34 = d34.encode(STATUS, v::STATUS_NEW_JSON, 1);  // HMAC with the local key
    REQUIRE(frame34);
    CHECK(code_of(c33.decode(*frame34)) == ErrorCode::WRONG_VERSION);  // HMAC in a 3.3 session
    MessageCodec c31(Role::CLIENT, Version::V3_1, B(v::K));
    CHECK(code_of(c33.decode(H(v::PR177_REPLY))) == ErrorCode::WRONG_VERSION);  // clear JSON in 3.3
    // A 3.4 version header in a 3.3 session.
    Frame f;
    f.cmd = STATUS;
    f.retcode = 0;
    f.payload = B(header("3.4") + std::string(16, 'x'));
    CHECK(code_of(c33.decode(encode_55aa(f, Integrity::CRC32))) == ErrorCode::WRONG_VERSION);
    CHECK(code_of(c31.decode(encode_55aa(f, Integrity::CRC32))) == ErrorCode::WRONG_VERSION);
  }
  SUBCASE("bad padding") {
    // Whole blocks encrypted without padding: decrypts, but the last byte is not a pad length.
    auto ct = crypto::aes_ecb_encrypt_raw(B(v::K), B("{\"dps\":{\"1\":1}}x"));
    REQUIRE(ct);
    Frame f;
    f.cmd = STATUS;
    f.retcode = 0;
    f.payload = *ct;
    CHECK(code_of(c33.decode(encode_55aa(f, Integrity::CRC32))) == ErrorCode::BAD_PADDING);
    auto ct34 = crypto::aes_ecb_encrypt_raw(H(v::V34_SESSION_KEY), B("{\"dps\":{\"1\":1}}x"));
    REQUIRE(ct34);
    f.payload = *ct34;
    CHECK(code_of(c34.decode(encode_55aa(f, Integrity::HMAC_SHA256, H(v::V34_SESSION_KEY)))) ==
          ErrorCode::BAD_PADDING);
    f.payload.pop_back();  // not whole blocks
    CHECK(code_of(c34.decode(encode_55aa(f, Integrity::HMAC_SHA256, H(v::V34_SESSION_KEY)))) ==
          ErrorCode::BAD_PADDING);
  }
  SUBCASE("not JSON") {
    // Binary plaintext that is neither JSON nor text.
    MessageCodec d35 = session(Role::DEVICE, Version::V3_5);
    auto frame = d35.seal(STATUS, H("00ff00ff0102"), 1, B("IVdevice0003"));
    REQUIRE(frame);
    CHECK(code_of(c35.decode(*frame)) == ErrorCode::NOT_JSON);
    auto opened = c35.open(*frame);  // the raw layer does not care
    REQUIRE(opened);
    CHECK(hex(opened->payload) == "00ff00ff0102");
  }
  SUBCASE("3.1 signature, base64, padding") {
    MessageCodec c31(Role::DEVICE, Version::V3_1, B(v::K));
    auto good = decode_55aa(H(v::V31_CONTROL), Integrity::CRC32, {}, Direction::TO_DEVICE);
    REQUIRE(good);
    auto with_payload = [&](std::string p) {
      Frame f = *good;
      f.payload = B(p);
      return c31.decode(encode_55aa(f, Integrity::CRC32));
    };
    std::string p(v::V31_CONTROL_PAYLOAD);
    std::string bad_sig = p;
    bad_sig[5] = bad_sig[5] == '0' ? '1' : '0';
    CHECK(code_of(with_payload(bad_sig)) == ErrorCode::BAD_SIGNATURE);
    // Bad base64 with a valid signature over it.
    const std::string b64 = "not*base64!";
    auto md5 = crypto::md5(as_bytes("data=" + b64 + "||lpv=3.1||" + std::string(v::K)));
    CHECK(code_of(with_payload("3.1" + to_hex(md5).substr(8, 16) + b64)) == ErrorCode::BAD_BASE64);
    // Valid base64 of a ciphertext with broken padding.
    auto ct = crypto::aes_ecb_encrypt_raw(B(v::K), B("0123456789abcdeX"));
    REQUIRE(ct);
    const std::string b64ct = crypto::base64_encode(*ct);
    auto md5b = crypto::md5(as_bytes("data=" + b64ct + "||lpv=3.1||" + std::string(v::K)));
    CHECK(code_of(with_payload("3.1" + to_hex(md5b).substr(8, 16) + b64ct)) == ErrorCode::BAD_PADDING);
    CHECK(code_of(with_payload("3.1abc")) == ErrorCode::TRUNCATED);
    // Wrong key: signature mismatch first.
    MessageCodec w31(Role::DEVICE, Version::V3_1, B("fedcba9876543210"));
    CHECK(code_of(w31.decode(H(v::V31_CONTROL))) == ErrorCode::BAD_SIGNATURE);
  }
  SUBCASE("bad arguments") {
    MessageCodec nokey(Role::CLIENT, Version::V3_3, B("short"));
    CHECK(code_of(nokey.encode(DP_QUERY, "{}", 1)) == ErrorCode::BAD_ARGUMENT);
    CHECK(code_of(nokey.decode(H(v::V33_STATUS))) == ErrorCode::BAD_ARGUMENT);
    CHECK(code_of(c35.encode(DP_QUERY_NEW, "{}", 1)) == ErrorCode::BAD_ARGUMENT);  // no IV
  }
}

TEST_CASE("codec state: session key, readiness, active key") {
  MessageCodec c(Role::CLIENT, Version::V3_4, B(v::K));
  CHECK_FALSE(c.ready());
  CHECK(hex(c.active_key()) == hex(B(v::K)));
  c.set_session_key(H(v::V34_SESSION_KEY));
  CHECK(c.ready());
  CHECK(hex(c.active_key()) == v::V34_SESSION_KEY);
  c.clear_session_key();
  CHECK_FALSE(c.has_session_key());
  MessageCodec c33(Role::CLIENT, Version::V3_3, B(v::K));
  CHECK(c33.ready());
  c33.set_session_key(H(v::V34_SESSION_KEY));  // ignored below 3.4
  CHECK(hex(c33.active_key()) == hex(B(v::K)));
  CHECK_FALSE(c33.device22());
  c33.set_device22(true);
  CHECK(c33.device22());
}

TEST_CASE("round trip property: every version, both roles, many commands and sizes") {
  const Bytes iv = B("roundtripIV!");
  for (auto ver : {Version::V3_1, Version::V3_2, Version::V3_3, Version::V3_4, Version::V3_5}) {
    for (bool d22 : {false, true}) {
      MessageCodec client(Role::CLIENT, ver, B(v::K), d22);
      MessageCodec device(Role::DEVICE, ver, B(v::K), d22);
      if (needs_session_key(ver)) {
        client.set_session_key(H(v::V35_SESSION_KEY));
        device.set_session_key(H(v::V35_SESSION_KEY));
      }
      for (uint32_t cmd : {0x07u, 0x08u, 0x09u, 0x0Au, 0x0Du, 0x10u, 0x12u, 0x40u}) {
        for (size_t n = 0; n < 48; n += 3) {
          std::string json = "{\"k\":\"" + std::string(n, 'a' + static_cast<char>(n % 26)) + "\"}";
          CAPTURE(to_string(ver));
          CAPTURE(cmd);
          CAPTURE(n);
          auto up = client.encode(cmd, json, static_cast<uint32_t>(n), iv);
          REQUIRE(up);
          auto got = device.decode(*up);
          REQUIRE(got);
          CHECK(got->payload == json);
          CHECK(got->cmd == cmd);
          CHECK(got->seqno == n);
          CHECK_FALSE(got->retcode);
          auto down =
              device.encode(cmd, json, static_cast<uint32_t>(n + 1), iv, static_cast<uint32_t>(n % 2));
          REQUIRE(down);
          auto back = client.decode(*down);
          REQUIRE(back);
          CHECK(back->payload == json);
          CHECK(back->retcode == std::optional<uint32_t>(static_cast<uint32_t>(n % 2)));
          auto ack = device.encode(cmd, "", 9, iv);
          REQUIRE(ack);
          auto ack_back = client.decode(*ack);
          REQUIRE(ack_back);
          CHECK(ack_back->is_ack());
        }
      }
    }
  }
}

}  // namespace t2m_message_test
