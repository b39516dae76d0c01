#include "tests/fakecloud/fake_openhub.h"

#include "cloud/push_envelope.h"

namespace t2m::fakecloud {

namespace push = cloud::push;

namespace {
// Tuya's 2.0 messages carry a 12-byte GCM IV (ivLen prefix 0x0000000c).
constexpr size_t OPENHUB_IV_SIZE = 12;
}  // namespace

FakeOpenhub::FakeOpenhub(FakeOpenhubOptions options) : options_(std::move(options)) {
  test::BrokerOptions bo;
  bo.users = {{options_.username, options_.password},
              {options_.publisher_username, options_.publisher_password}};
  broker_ = std::make_unique<test::MosquittoBroker>(bo);
}

FakeOpenhub::~FakeOpenhub() = default;

Status FakeOpenhub::start() {
  if (!broker_->start()) return fail("fake_openhub", "mosquitto did not start: " + broker_->log());
  return {};
}

OpenhubAccess FakeOpenhub::access() const {
  OpenhubAccess a;
  a.url = broker_->uri();
  a.client_id = options_.client_id;
  a.username = options_.username;
  a.password = options_.password;
  a.expire_time_s = options_.expire_time_s;
  a.source_topic = options_.source_topic;
  return a;
}

Status FakeOpenhub::publish(int protocol, std::string_view plain_json, std::string_view version, uint64_t t) {
  auto key = push::openhub_key(options_.password);
  if (!key) return fail("fake_openhub", "password shorter than 24 characters");
  std::string data;
  if (version == push::OPENHUB_V2) {
    Bytes iv(OPENHUB_IV_SIZE, 0);
    const uint32_t c = ++iv_counter_;  // a fresh IV per message
    for (size_t i = 0; i < sizeof c; ++i) iv[iv.size() - 1 - i] = static_cast<uint8_t>(c >> (8 * i));
    data = push::encrypt_openhub_gcm_data(plain_json, *key, iv, push::AadForm::DECIMAL_TEXT, t);
  } else if (version == push::OPENHUB_V1) {
    data = push::encrypt_ecb_data(plain_json, *key);
  } else {
    return fail("fake_openhub", "unknown msg_encrypted_version " + std::string(version));
  }
  return publish_raw(push::make_envelope(protocol, data, t));
}

Status FakeOpenhub::publish_raw(const std::string& payload) {
  const std::vector<std::string> argv = {"mosquitto_pub",
                                         "-h",
                                         "127.0.0.1",
                                         "-p",
                                         std::to_string(broker_->port()),
                                         "-u",
                                         options_.publisher_username,
                                         "-P",
                                         options_.publisher_password,
                                         "-i",
                                         "fake-tuya-publisher",
                                         "-q",
                                         "1",
                                         "-t",
                                         options_.source_topic,
                                         "-m",
                                         payload};
  if (test::run_command(argv) != 0) return fail("fake_openhub", "mosquitto_pub failed");
  ++published_;
  return {};
}

}  // namespace t2m::fakecloud
