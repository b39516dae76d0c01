// A stand-in for Tuya's open-hub MQTT broker (docs/cloud.md §6.b, §7 "MQTT"): a real mosquitto on a free
// loopback port that refuses anonymous clients and knows two users, the one the fake OpenAPI hands out
// (access(), for FakeCloud::set_openhub) and the fake's own publisher. publish() encrypts a business
// payload the way Tuya does (key = password[8..24); "1.0" AES-128-ECB, "2.0" AES-128-GCM with the
// decimal-text AAD), wraps it in the §6.0 envelope and publishes it on the source topic with
// mosquitto_pub (test code: the call blocks until the broker took the message).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "tests/fakecloud/fake_cloud.h"
#include "tests/support/mosquitto.h"

namespace t2m::fakecloud {

struct FakeOpenhubOptions {
  std::string client_id = "cloud_fake0000openhub01";
  std::string username = "cloud_fakeuser00000001";
  std::string password = "9f2a5c1e7b3d4f60a8c2e4b6d8f0a1c3";  // §6.c vector: key 7b3d4f60a8c2e4b6
  std::string source_topic = "cloud/token/in/cloud_fake0000openhub01";
  int64_t expire_time_s = 7200;
  std::string publisher_username = "fake-tuya-publisher";
  std::string publisher_password = "fake-tuya-publisher-pass";
};

class FakeOpenhub {
 public:
  explicit FakeOpenhub(FakeOpenhubOptions options = {});
  ~FakeOpenhub();
  FakeOpenhub(const FakeOpenhub&) = delete;
  FakeOpenhub& operator=(const FakeOpenhub&) = delete;

  // Starts the broker; an error if mosquitto did not come up.
  Status start();
  test::MosquittoBroker& broker() { return *broker_; }
  const FakeOpenhubOptions& options() const { return options_; }
  // The access config the fake OpenAPI should answer with.
  OpenhubAccess access() const;

  // Encrypts `plain_json` for `version` ("1.0" or "2.0"), wraps it with outer time `t` and publishes
  // it on the source topic (QoS 1).
  Status publish(int protocol, std::string_view plain_json, std::string_view version = "1.0",
                 uint64_t t = 1700000000123);
  // Publishes `payload` verbatim on the source topic (junk, broken envelopes).
  Status publish_raw(const std::string& payload);
  size_t published() const { return published_; }

 private:
  FakeOpenhubOptions options_;
  std::unique_ptr<test::MosquittoBroker> broker_;
  size_t published_ = 0;
  uint32_t iv_counter_ = 0;
};

}  // namespace t2m::fakecloud
