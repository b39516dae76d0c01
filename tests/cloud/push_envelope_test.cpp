#include "cloud/push_envelope.h"

#include <doctest/doctest.h>

#include "protocol/crypto.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_push_envelope_test {

using namespace t2m;
using namespace t2m::cloud::push;
namespace crypto = t2m::proto::crypto;

namespace {

// Reference §6.c.
constexpr std::string_view PLAIN =
    R"({"devId":"vdevo1","status":[{"code":"switch_1","value":true,"t":1700000000000}]})";
constexpr std::string_view PLAIN_SHA256 = "ddbbfbae855fe4cac5af203d00afe5a0e29808922810e7c56e8ae4f1276de3d8";
constexpr std::string_view ACCESS_ID = "1KAD46OrT9HafiKdsXeg";
constexpr std::string_view ACCESS_SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC";
constexpr std::string_view ECB_DATA =
    "EOEPd0WgvUjpGkoY4XXMga0iYCTXPef3eId9JStSKDIgSCQURm7e6N2GC5hW0vpZsgdShN3JfuwYKBN3YzlOYPhfbcGUbsIs62Twsx/"
    "F55mtRHQ9ZIJikJZQhBpotK7P";
constexpr std::string_view WS_PAYLOAD =
    "eyJkYXRhIjoiRU9FUGQwV2d2VWpwR2tvWTRYWE1nYTBpWUNUWFBlZjNlSWQ5SlN0U0tESWdTQ1FVUm03ZTZOMkdDNWhXMHZwWnNnZFNo"
    "Tj"
    "NKZnV3WUtCTjNZemxPWVBoZmJjR1Vic0lzNjJUd3N4L0Y1NW10UkhROVpJSmlrSlpRaEJwb3RLN1AiLCJwcm90b2NvbCI6NCwicHYiOi"
    "Iy"
    "LjAiLCJzaWduIjoiaWdub3JlZC1ieS1zZGtzIiwidCI6MTcwMDAwMDAwMDEyM30=";
constexpr std::string_view GCM_DATA =
    "AAECAwQFBgcICQoLwMbycNRTjWvoV0DmNjJxYBDCIBBP1ZG3UCGHtn4jJcl84gm4AXSvF3Qp60WU1gx3od8Q2WdO8rBwa2UK4Jc+"
    "glsXS76gEQzbs/UeKKnSkxyE3vo96TwiO8fKjxyy/OEq";
constexpr std::string_view OH_PASSWORD = "9f2a5c1e7b3d4f60a8c2e4b6d8f0a1c3";
constexpr std::string_view OH_ECB =
    "kriengZxEcYqj5fz4vP+OVwfgy4O1CUvPLI09QsNGhXLNeaOsAm6gUfw2QF5JG98wGK/"
    "a7Ld0rrxcoyq6SWupz6Gvw5H1mgEipEwePcCcO2+"
    "1LUc1asGo5oSPqWEDZEb";
constexpr std::string_view OH_GCM_TEXT =
    "AAAADKChoqOkpaanqKmqq1/"
    "P8BxzN7bG1+Hk8KtxQyOoXxXN+5N0ws2sqVQ6aLe795ED1qBvW0FO28ZXb6xUthDaSe3lcq66smzdKPUDD/"
    "sCTXDngEci24KQ1+pCW/52ji2i1Bn0xZjwdcA8qycmCA==";
constexpr std::string_view OH_GCM_BE48 =
    "AAAADKChoqOkpaanqKmqq1/"
    "P8BxzN7bG1+Hk8KtxQyOoXxXN+5N0ws2sqVQ6aLe795ED1qBvW0FO28ZXb6xUthDaSe3lcq66smzdKPUDD/"
    "sCTXDngEci24KQ1+pCW/52tSyOtu1BXgEG02nnwI3Ntw==";
constexpr uint64_t OUTER_T = 1700000000123;

std::string sha_hex(std::string_view s) {
  auto d = crypto::sha256(as_bytes(s));
  return to_hex(ByteView(d.data(), d.size()));
}

Bytes pkey() {
  return *pulsar_key(ACCESS_SECRET);
}
Bytes okey() {
  return *openhub_key(OH_PASSWORD);
}

Envelope oh_env(std::string_view data) {
  auto e = parse_envelope(make_envelope(4, data, OUTER_T));
  REQUIRE(e.ok());
  return e.value();
}

}  // namespace

TEST_SUITE("push_envelope") {
  TEST_CASE("§6.c plaintext is the one the vectors were computed from") {
    CHECK(PLAIN.size() == 80);
    CHECK(sha_hex(PLAIN) == PLAIN_SHA256);
  }

  TEST_CASE("§6.c Pulsar credentials: WS password and AES key") {
    CHECK(pulsar_password(ACCESS_ID, ACCESS_SECRET) == "7e3ee9916b8f32b8");
    auto k = pulsar_key(ACCESS_SECRET);
    REQUIRE(k.has_value());
    CHECK(to_hex(*k) == "71614543316d57584f70564c33795635");
    CHECK(as_chars(*k) == "qaEC1mWXOpVL3yV5");
    CHECK_FALSE(pulsar_key("too-short-secret").has_value());
  }

  TEST_CASE("§6.c Pulsar ECB: decrypt and re-encrypt byte-exact") {
    auto p = decrypt_pulsar_data(ECB_DATA, EM_AES_ECB, pkey());
    REQUIRE(p.ok());
    CHECK(p.value() == PLAIN);
    // em absent means ECB (older gateways, §9.3).
    auto p2 = decrypt_pulsar_data(ECB_DATA, "", pkey());
    REQUIRE(p2.ok());
    CHECK(p2.value() == PLAIN);
    CHECK(encrypt_ecb_data(PLAIN, pkey()) == ECB_DATA);
  }

  TEST_CASE("§6.c whole WS payload: envelope byte-exact and parsed") {
    std::string env_json = make_envelope(4, ECB_DATA, OUTER_T);
    CHECK(crypto::base64_encode(as_bytes(env_json)) == WS_PAYLOAD);
    auto raw = crypto::base64_decode(WS_PAYLOAD);
    REQUIRE(raw.has_value());
    auto env = parse_envelope(as_chars(*raw));
    REQUIRE(env.ok());
    CHECK(env->protocol == 4);
    CHECK(env->pv == "2.0");
    CHECK(env->t_ms == 1700000000123);
    CHECK(env->t_text == "1700000000123");
    CHECK(env->data == ECB_DATA);
  }

  TEST_CASE("§6.c Pulsar GCM: decrypt and re-encrypt byte-exact") {
    auto p = decrypt_pulsar_data(GCM_DATA, EM_AES_GCM, pkey());
    REQUIRE(p.ok());
    CHECK(p.value() == PLAIN);
    Bytes nonce = hex_literal("000102030405060708090a0b");
    std::string enc = encrypt_pulsar_gcm_data(PLAIN, pkey(), nonce);
    CHECK(enc == GCM_DATA);
    auto raw = crypto::base64_decode(enc);
    REQUIRE(raw.has_value());
    CHECK(to_hex(ByteView(*raw).last(16)) == "84defa3de93c223bc7ca8f1cb2fce12a");
    // The cipher comes from `em`, not from the payload: GCM data read as ECB fails (tuya-smart-ir-ac #162).
    auto wrong = decrypt_pulsar_data(GCM_DATA, EM_AES_ECB, pkey());
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == ERR_DECRYPT);
  }

  TEST_CASE("§6.c open-hub key and 1.0 ECB") {
    auto k = openhub_key(OH_PASSWORD);
    REQUIRE(k.has_value());
    CHECK(to_hex(*k) == "37623364346636306138633265346236");
    auto p = decrypt_openhub_data(oh_env(OH_ECB), OPENHUB_V1, okey());
    REQUIRE(p.ok());
    CHECK(p->text == PLAIN);
    CHECK(p->aad == AadForm::NONE);
    CHECK(encrypt_ecb_data(PLAIN, okey()) == OH_ECB);
  }

  TEST_CASE("§6.c open-hub 2.0 GCM: both AAD forms verify and are told apart") {
    Bytes iv = hex_literal("a0a1a2a3a4a5a6a7a8a9aaab");
    auto a = decrypt_openhub_data(oh_env(OH_GCM_TEXT), OPENHUB_V2, okey());
    REQUIRE(a.ok());
    CHECK(a->text == PLAIN);
    CHECK(a->aad == AadForm::DECIMAL_TEXT);
    auto b = decrypt_openhub_data(oh_env(OH_GCM_BE48), OPENHUB_V2, okey());
    REQUIRE(b.ok());
    CHECK(b->text == PLAIN);
    CHECK(b->aad == AadForm::BE48);
    CHECK(encrypt_openhub_gcm_data(PLAIN, okey(), iv, AadForm::DECIMAL_TEXT, OUTER_T) == OH_GCM_TEXT);
    CHECK(encrypt_openhub_gcm_data(PLAIN, okey(), iv, AadForm::BE48, OUTER_T) == OH_GCM_BE48);
    // Ciphertext identical for both, tags differ (§6.c).
    auto ra = crypto::base64_decode(OH_GCM_TEXT);
    auto rb = crypto::base64_decode(OH_GCM_BE48);
    REQUIRE((ra && rb));
    CHECK(to_hex(ByteView(*ra).subspan(16, 4)) == "5fcff01c");
    CHECK(to_hex(ByteView(*ra).last(36).first(20)) == "f5030ffb024d70e7804722db8290d7ea425bfe76");
    CHECK(ByteView(*ra).first(ra->size() - 16).size() == ByteView(*rb).first(rb->size() - 16).size());
    CHECK(to_hex(ByteView(*ra).first(ra->size() - 16)) == to_hex(ByteView(*rb).first(rb->size() - 16)));
    CHECK(to_hex(ByteView(*ra).last(16)) == "8e2da2d419f4c598f075c03cab272608");
    CHECK(to_hex(ByteView(*rb).last(16)) == "b52c8eb6ed415e0106d369e7c08dcdb7");
  }

  TEST_CASE("open-hub 2.0 with a `t` that matches neither AAD fails as a decrypt error") {
    auto e = parse_envelope(make_envelope(4, OH_GCM_TEXT, OUTER_T + 1));
    REQUIRE(e.ok());
    auto r = decrypt_openhub_data(e.value(), OPENHUB_V2, okey());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ERR_DECRYPT);
    auto v = decrypt_openhub_data(oh_env(OH_ECB), "3.0", okey());
    REQUIRE_FALSE(v.ok());
    CHECK(v.error().code == ERR_UNKNOWN_CIPHER);
  }

  TEST_CASE("malformed input gives coded errors, never a crash") {
    SUBCASE("frames") {
      CHECK(parse_pulsar_frame("not json").error().code == ERR_BAD_FRAME);
      CHECK(parse_pulsar_frame("[1,2]").error().code == ERR_BAD_FRAME);
      CHECK(parse_pulsar_frame(R"({"payload":"x"})").error().code == ERR_BAD_FRAME);
      auto f = parse_pulsar_frame(
          R"({"messageId":"CAAQAw==","payload":"eA==","properties":{"em":"aes_gcm"},"redeliveryCount":2,"x":1})");
      REQUIRE(f.ok());
      CHECK(f->message_id == "CAAQAw==");
      CHECK(f->em == "aes_gcm");
      CHECK(f->redelivery_count == 2);
      CHECK(pulsar_ack("CAAQAw==") == R"({"messageId":"CAAQAw=="})");
    }
    SUBCASE("envelopes") {
      CHECK(parse_envelope("{").error().code == ERR_BAD_ENVELOPE);
      CHECK(parse_envelope(R"({"data":"x"})").error().code == ERR_BAD_ENVELOPE);
      CHECK(parse_envelope(R"({"protocol":4,"data":5})").error().code == ERR_BAD_ENVELOPE);
      auto e = parse_envelope(R"({"protocol":"20","data":"","t":"1700000000","newKey":{}})");
      REQUIRE(e.ok());
      CHECK(e->protocol == 20);
      CHECK(e->t_ms == 1700000000000);
    }
    SUBCASE("base64 and ciphertext") {
      CHECK(decrypt_pulsar_data("%%%notbase64", EM_AES_ECB, pkey()).error().code == ERR_BAD_BASE64);
      CHECK(decrypt_pulsar_data("AAAA", EM_AES_ECB, pkey()).error().code == ERR_DECRYPT);
      CHECK(decrypt_pulsar_data("AAAA", EM_AES_GCM, pkey()).error().code == ERR_DECRYPT);
      CHECK(decrypt_pulsar_data(ECB_DATA, "aes_cbc", pkey()).error().code == ERR_UNKNOWN_CIPHER);
      Bytes wrong_key = to_bytes("0123456789abcdef");
      CHECK(decrypt_pulsar_data(GCM_DATA, EM_AES_GCM, wrong_key).error().code == ERR_DECRYPT);
      CHECK(decrypt_openhub_data(oh_env("AAAA"), OPENHUB_V2, okey()).error().code == ERR_DECRYPT);
      CHECK(decrypt_openhub_data(oh_env("!!"), OPENHUB_V2, okey()).error().code == ERR_BAD_BASE64);
    }
    SUBCASE("business payloads") {
      CHECK(decode_business(4, 0, "null").error().code == ERR_BAD_PAYLOAD);
      CHECK(decode_business(4, 0, R"({"status":[]})").error().code == ERR_BAD_PAYLOAD);
      CHECK(decode_business(4, 0, R"({"devId":"d","status":{}})").error().code == ERR_BAD_PAYLOAD);
    }
  }

  TEST_CASE("time normalisation: seconds, milliseconds, microseconds, strings") {
    using nlohmann::json;
    CHECK(normalise_time_ms(json(1700000000)) == 1700000000000);
    CHECK(normalise_time_ms(json(1700000000123LL)) == 1700000000123);
    CHECK(normalise_time_ms(json("1700000000123")) == 1700000000123);
    CHECK(normalise_time_ms(json("1700000000")) == 1700000000000);
    CHECK(normalise_time_ms(json(1700000000123456LL)) == 1700000000123);
    CHECK(normalise_time_ms(json(1700000000.5)) == 1700000000000);
    CHECK_FALSE(normalise_time_ms(json("soon")).has_value());
    CHECK_FALSE(normalise_time_ms(json(-5)).has_value());
    CHECK_FALSE(normalise_time_ms(json(nullptr)).has_value());
  }

  TEST_CASE("protocol 4: code, dpId pair, sharing variant, string t") {
    auto m = decode_business(4, 1700000000999,
                             R"({"dataId":"AAXI","devId":"dev1","productKey":"pk","status":[
             {"code":"switch_1","value":false,"t":1628229842692,"1":"false"},
             {"code":"bright_value","value":120,"t":"1628229842700","2":"120"},
             {"dpId":3,"t":1752456620499,"value":7},
             {"code":"countdown","value":0},
             {"junk":true}, 5]})");
    REQUIRE(m.ok());
    CHECK(m->data_id == "AAXI");
    auto* r = std::get_if<StatusReport>(&m->event);
    REQUIRE(r != nullptr);
    CHECK(r->dev_id == "dev1");
    CHECK(r->product_key == "pk");
    REQUIRE(r->items.size() == 4);
    CHECK(r->items[0].code == "switch_1");
    CHECK(r->items[0].dp_id == 1);
    CHECK(r->items[0].value == false);
    CHECK(r->items[0].t_ms == 1628229842692);
    CHECK(r->items[1].t_ms == 1628229842700);
    CHECK(r->items[1].dp_id == 2);
    CHECK(r->items[2].code.empty());
    CHECK(r->items[2].dp_id == 3);
    CHECK(r->items[2].value == 7);
    CHECK(r->items[3].t_ms == 1700000000999);  // no item t: the envelope's
    CHECK_FALSE(r->items[3].dp_id.has_value());
    // The §6.c plaintext.
    auto v = decode_business(4, 0, PLAIN);
    REQUIRE(v.ok());
    CHECK(std::get<StatusReport>(v->event).items.at(0).value == true);
  }

  TEST_CASE("protocol 20: every bizCode of §6.0") {
    auto dec = [](std::string_view json) {
      auto m = decode_business(20, 1, json);
      REQUIRE(m.ok());
      return m.value();
    };
    auto on = dec(R"({"devId":"d1","bizCode":"online","bizData":{"time":1700000000},"ts":1700000000123})");
    CHECK(std::get<Online>(on.event).dev_id == "d1");
    CHECK(on.t_ms == 1700000000123);
    CHECK(
        std::get<Offline>(dec(R"({"devId":"d1","bizCode":"offline","bizData":{"time":146052438362}})").event)
            .dev_id == "d1");
    // devId only inside bizData (sharing SDK shape).
    auto nu = dec(R"({"bizCode":"nameUpdate","bizData":{"devId":"d2","uid":"ay1","name":"Kitchen lamp"}})");
    CHECK(std::get<NameUpdate>(nu.event).dev_id == "d2");
    CHECK(std::get<NameUpdate>(nu.event).name == "Kitchen lamp");
    auto dn = std::get<DpNameUpdate>(
        dec(R"({"devId":"d1","bizCode":"dpNameUpdate","bizData":{"devId":"d1","dpId":"1","name":"Left"}})")
            .event);
    CHECK(dn.dp_id == 1);
    CHECK(dn.name == "Left");
    auto bu = std::get<BindUser>(
        dec(R"({"devId":"d3","bizCode":"bindUser","bizData":{"devId":"d3","uid":"ay1","ownerId":"123","uuid":"u","token":"tok"}})")
            .event);
    CHECK(bu.dev_id == "d3");
    CHECK(bu.owner_id == "123");
    auto de = std::get<Delete>(
        dec(R"({"devId":"d3","bizCode":"delete","bizData":{"devId":"d3","uid":"ay1","ownerId":123}})").event);
    CHECK(de.owner_id == "123");
    auto up = std::get<UpgradeStatus>(
        dec(R"({"devId":"d1","bizCode":"upgradeStatus","bizData":{"devId":"d1","upgradeStatus":2,"progress":"40","moduleType":9,"description":"x"}})")
            .event);
    CHECK(up.status == 2);
    CHECK(up.progress == 40);
    CHECK(up.module_type == 9);
    CHECK(up.description == "x");
    auto unk = std::get<Unknown>(dec(R"({"devId":"d1","bizCode":"deviceSignal","bizData":{}})").event);
    CHECK(unk.biz_code == "deviceSignal");
    CHECK(unk.protocol == 20);
  }

  TEST_CASE("protocol 25 scene run and unknown protocols") {
    auto m = decode_business(
        25, 5,
        R"({"bizCode":"sceneExecute","bizData":{"id":"sc1","name":"Good night"},"gid":12345,"uid":"ay1",
            "actions":[{"id":"a1","entityId":"d1","execStatus":1,"executeTime":1700000000000}]})");
    REQUIRE(m.ok());
    auto& s = std::get<SceneRun>(m->event);
    CHECK(s.scene_id == "sc1");
    CHECK(s.name == "Good night");
    CHECK(s.gid == "12345");
    REQUIRE(s.actions.size() == 1);
    CHECK(s.actions[0].entity_id == "d1");
    CHECK(s.actions[0].execute_time_ms == 1700000000000);
    CHECK(event_dev_id(m->event).empty());
    CHECK(event_name(m->event) == "sceneExecute");
    auto u = decode_business(99, 5, R"({"bizCode":"whatever","devId":"d9"})");
    REQUIRE(u.ok());
    CHECK(std::get<Unknown>(u->event).protocol == 99);
    CHECK(event_dev_id(u->event) == "d9");
  }
}

}  // namespace t2m_push_envelope_test
