#include "cloud/push_processor.h"

#include <doctest/doctest.h>

#include <vector>

#include "protocol/crypto.h"
#include "tests/fakes/fake_timers.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_push_processor_test {

using namespace t2m;
using namespace t2m::cloud::push;
namespace crypto = t2m::proto::crypto;

namespace {

constexpr std::string_view SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC";

struct RecordingSink : PushSink {
  std::vector<PushMessage> got;
  void on_push(const PushMessage& m) override { got.push_back(m); }
};

Bytes key() {
  return *pulsar_key(SECRET);
}

std::string frame(std::string_view id, int protocol, std::string_view plain, std::string_view em,
                  uint64_t t = 1700000000123, int redelivery = 0) {
  std::string data = em == EM_AES_GCM
                         ? encrypt_pulsar_gcm_data(plain, key(), hex_literal("0102030405060708090a0b0c"))
                         : encrypt_ecb_data(plain, key());
  nlohmann::json f = {{"messageId", id},
                      {"payload", crypto::base64_encode(as_bytes(make_envelope(protocol, data, t)))},
                      {"properties", {{"em", em}}},
                      {"publishTime", "2023-11-14T22:13:20.123Z"},
                      {"redeliveryCount", redelivery}};
  return f.dump();
}

std::string status(std::string_view data_id, std::string_view value, int64_t t) {
  return nlohmann::json{{"dataId", data_id},
                        {"devId", "dev1"},
                        {"status", {{{"code", "switch_1"}, {"value", value == "true"}, {"t", t}}}}}
      .dump();
}

}  // namespace

TEST_SUITE("push_processor") {
  TEST_CASE("Pulsar ECB and GCM frames are decoded, delivered and acked") {
    RecordingSink sink;
    FakeTimers timers;
    PushProcessor p(sink, timers);
    CHECK(p.handle_pulsar_frame(frame("m1", 4, status("a", "true", 1000), EM_AES_ECB), key()) == "m1");
    CHECK(p.handle_pulsar_frame(
              frame("m2", 20, R"({"devId":"dev1","bizCode":"offline","bizData":{}})", EM_AES_GCM), key()) ==
          "m2");
    REQUIRE(sink.got.size() == 2);
    CHECK(std::get<StatusReport>(sink.got[0].event).items.at(0).value == true);
    CHECK(std::get<Offline>(sink.got[1].event).dev_id == "dev1");
    CHECK(p.counters().delivered == 2);
    CHECK(p.counters().errors == 0);
  }

  TEST_CASE("redelivered messages are acked again but delivered once") {
    RecordingSink sink;
    FakeTimers timers;
    PushProcessor p(sink, timers);
    auto f = frame("m1", 4, status("a", "true", 1000), EM_AES_GCM);
    CHECK(p.handle_pulsar_frame(f, key()) == "m1");
    timers.advance(3000);
    CHECK(p.handle_pulsar_frame(frame("m1", 4, status("a", "true", 1000), EM_AES_GCM, 1700000000123, 1),
                                key()) == "m1");
    // Same report under a new message id (same dataId): still one delivery.
    CHECK(p.handle_pulsar_frame(frame("m9", 4, status("a", "true", 1000), EM_AES_ECB), key()) == "m9");
    CHECK(sink.got.size() == 1);
    CHECK(p.counters().duplicates == 2);
  }

  TEST_CASE("out-of-order reports keep the newest value") {
    RecordingSink sink;
    FakeTimers timers;
    PushProcessor p(sink, timers);
    (void)p.handle_pulsar_frame(frame("m1", 4, status("a", "true", 2000), EM_AES_ECB), key());
    (void)p.handle_pulsar_frame(frame("m2", 4, status("b", "false", 1000), EM_AES_ECB), key());
    (void)p.handle_pulsar_frame(frame("m3", 4, status("c", "false", 3000), EM_AES_ECB), key());
    REQUIRE(sink.got.size() == 2);
    CHECK(std::get<StatusReport>(sink.got[0].event).items.at(0).value == true);
    CHECK(std::get<StatusReport>(sink.got[1].event).items.at(0).value == false);
    CHECK(std::get<StatusReport>(sink.got[1].event).items.at(0).t_ms == 3000000);  // 3000 s -> ms
    CHECK(p.counters().stale_items == 1);
    CHECK(p.counters().stale_reports == 1);
  }

  TEST_CASE("every bad input is counted by reason, never fatal") {
    RecordingSink sink;
    FakeTimers timers;
    PushProcessor p(sink, timers);
    CHECK(p.handle_pulsar_frame("garbage", key()).empty());  // no id: nothing to ack
    CHECK(p.handle_pulsar_frame(R"({"messageId":"b64","payload":"***"})", key()) == "b64");
    std::string not_json = crypto::base64_encode(as_bytes("{not json"));
    CHECK(p.handle_pulsar_frame(R"({"messageId":"env","payload":")" + not_json + "\"}", key()) == "env");
    // Undecryptable: GCM data announced as ECB, and a GCM frame under the wrong key.
    auto gcm = frame("dec1", 4, status("z", "true", 1), EM_AES_GCM);
    auto j = nlohmann::json::parse(gcm);
    j["properties"]["em"] = "aes_ecb";
    CHECK(p.handle_pulsar_frame(j.dump(), key()) == "dec1");
    CHECK(p.handle_pulsar_frame(frame("dec2", 4, status("y", "true", 1), EM_AES_GCM),
                                to_bytes("0123456789abcdef")) == "dec2");
    CHECK(p.handle_pulsar_frame(frame("pl", 4, "[1,2,3]", EM_AES_ECB), key()) == "pl");
    CHECK(p.handle_pulsar_frame(frame("unk", 77, R"({"bizCode":"new"})", EM_AES_ECB), key()) == "unk");
    CHECK(p.handle_pulsar_frame(frame("ok", 20, R"({"devId":"d","bizCode":"online"})", EM_AES_GCM), key()) ==
          "ok");
    const auto& c = p.counters();
    CHECK(c.received == 8);
    CHECK(c.by_reason.at(std::string(ERR_BAD_FRAME)) == 1);
    CHECK(c.by_reason.at(std::string(ERR_BAD_BASE64)) == 1);
    CHECK(c.by_reason.at(std::string(ERR_BAD_ENVELOPE)) == 1);
    CHECK(c.by_reason.at(std::string(ERR_DECRYPT)) == 2);
    CHECK(c.by_reason.at(std::string(ERR_BAD_PAYLOAD)) == 1);
    CHECK(c.errors == 6);
    CHECK(c.unknown == 1);
    REQUIRE(sink.got.size() == 2);  // the unknown one and the online one
    CHECK(std::holds_alternative<Unknown>(sink.got[0].event));
    CHECK(std::holds_alternative<Online>(sink.got[1].event));
  }

  TEST_CASE("delete forgets the device's newest-value memory") {
    RecordingSink sink;
    FakeTimers timers;
    PushProcessor p(sink, timers);
    (void)p.handle_pulsar_frame(frame("m1", 4, status("a", "true", 5000), EM_AES_ECB), key());
    (void)p.handle_pulsar_frame(
        frame("m2", 20, R"({"devId":"dev1","bizCode":"delete","bizData":{}})", EM_AES_ECB), key());
    (void)p.handle_pulsar_frame(frame("m3", 4, status("b", "false", 1000), EM_AES_ECB), key());
    REQUIRE(sink.got.size() == 3);
    CHECK(std::holds_alternative<StatusReport>(sink.got[2].event));
  }

  TEST_CASE("open-hub payloads: 1.0 and 2.0, duplicates, AAD form counted") {
    RecordingSink sink;
    FakeTimers timers;
    PushProcessor p(sink, timers);
    Bytes k = *openhub_key("9f2a5c1e7b3d4f60a8c2e4b6d8f0a1c3");
    std::string plain = R"({"devId":"d1","bizCode":"online","bizData":{}})";
    std::string v1 = make_envelope(20, encrypt_ecb_data(plain, k), 1700000000123);
    std::string v2 = make_envelope(20,
                                   encrypt_openhub_gcm_data(plain, k, hex_literal("a0a1a2a3a4a5a6a7a8a9aaab"),
                                                            AadForm::BE48, 1700000000124),
                                   1700000000124);
    p.handle_openhub_message(v1, OPENHUB_V1, k);
    p.handle_openhub_message(v1, OPENHUB_V1, k);  // QoS 1 duplicate
    p.handle_openhub_message(v2, OPENHUB_V2, k);
    std::string v1b = make_envelope(20, encrypt_ecb_data(plain, k), 1700000000125);
    p.handle_openhub_message(v1b, OPENHUB_V2, k);  // wrong version: undecryptable
    p.handle_openhub_message(std::string(PushProcessor::MAX_PAYLOAD_BYTES + 1, '{'), OPENHUB_V1, k);
    CHECK(p.counters().by_reason.at(std::string(ERR_TOO_LARGE)) == 1);
    CHECK(sink.got.size() == 2);
    CHECK(p.counters().duplicates == 1);
    CHECK(p.counters().aad_forms.at("be48") == 1);
    CHECK(p.counters().by_reason.at(std::string(ERR_DECRYPT)) == 1);
  }
}

}  // namespace t2m_push_processor_test
