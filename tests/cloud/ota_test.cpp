#include "cloud/ota.h"

#include <doctest/doctest.h>

#include "tests/cloud/cloud_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_ota_test {

using namespace t2m;
using namespace t2m::cloud;
using t2m::cloud::testing::Env;

namespace {

const char* const BULB = "bf0000000000000bulb1";

struct OtaEnv : Env {
  OtaManager ota;
  std::vector<OtaProgress> seen;
  std::optional<Result<OtaProgress>> done;

  OtaEnv() : ota(*api, timers, OtaOptions{1000, 60000, 1000, 3}) {
    fakecloud::FakeFirmware main;
    main.channel = 0;
    fakecloud::FakeFirmware mcu;
    mcu.channel = 9;
    mcu.current_version = mcu.latest_version = "2.0.0";
    mcu.upgrade_status = 0;
    cloud.set_firmware(BULB, {main, mcu});
  }
  Status start(int channel) {
    return ota.start(
        BULB, channel, [this](const OtaProgress& p) { seen.push_back(p); },
        [this](Result<OtaProgress> r) { done.emplace(std::move(r)); });
  }
};

}  // namespace

TEST_CASE("status numbers map to names") {
  CHECK(upgrade_status_name(0) == "idle");
  CHECK(upgrade_status_name(1) == "available");
  CHECK(upgrade_status_name(2) == "installing");
  CHECK(upgrade_status_name(3) == "done");
  CHECK(upgrade_status_name(4) == "failed");
  CHECK(upgrade_status_name(7) == "timeout");
  CHECK(upgrade_status_name(13) == "queued");
  CHECK(upgrade_status_name(14) == "preparing");
  CHECK(upgrade_status_name(100) == "status_100");
  CHECK(upgrade_status_final(3));
  CHECK_FALSE(upgrade_status_final(2));
}

TEST_CASE("check lists channels with versions and whether they can upgrade") {
  OtaEnv e;
  e.cloud.firmware(BULB, 0)->can_upgrade = false;
  e.cloud.firmware(BULB, 0)->remind = "battery below 30%";
  auto r = e.wait<std::vector<FirmwareInfo>>([&](auto cb) { e.ota.check(BULB, std::move(cb)); });
  REQUIRE(r->ok());
  REQUIRE(r->value().size() == 2);
  CHECK(r->value()[0].current_version == "1.0.0");
  CHECK(r->value()[0].latest_version == "1.1.0");
  CHECK(r->value()[0].upgrade_status == 1);
  CHECK_FALSE(r->value()[0].can_upgrade);
  CHECK(r->value()[0].remind == "battery below 30%");
  CHECK(r->value()[1].channel == 9);
}

TEST_CASE("an upgrade runs to completion with rising progress") {
  OtaEnv e;
  REQUIRE(e.start(-1).ok());
  CHECK(e.ota.busy(BULB));
  REQUIRE(e.run_until([&] { return e.done.has_value(); }));
  REQUIRE(e.done->ok());
  CHECK(e.done->value().status == 3);
  CHECK(e.done->value().progress == 100);
  CHECK(e.done->value().to_version == "1.1.0");
  REQUIRE(e.seen.size() >= 4);
  for (size_t i = 1; i < e.seen.size(); ++i) CHECK(e.seen[i].progress >= e.seen[i - 1].progress);
  CHECK(e.seen.front().status == 2);
  CHECK_FALSE(e.ota.busy(BULB));
  CHECK(e.cloud.firmware(BULB, 0)->current_version == "1.1.0");
}

TEST_CASE("only one upgrade per device") {
  OtaEnv e;
  REQUIRE(e.start(0).ok());
  Status second = e.start(0);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == ERR_OTA_BUSY);
  REQUIRE(e.run_until([&] { return e.done.has_value(); }));
  CHECK(e.done->ok());
}

TEST_CASE("failure, cloud time-out, our own deadline, nothing to do, cannot upgrade") {
  SUBCASE("device reports failure") {
    OtaEnv e;
    e.cloud.firmware(BULB, 0)->outcome = 4;
    REQUIRE(e.start(0).ok());
    REQUIRE(e.run_until([&] { return e.done.has_value(); }));
    CHECK(e.done->error().code == ERR_OTA_FAILED);
  }
  SUBCASE("cloud reports time-out") {
    OtaEnv e;
    e.cloud.firmware(BULB, 0)->outcome = 7;
    REQUIRE(e.start(0).ok());
    REQUIRE(e.run_until([&] { return e.done.has_value(); }));
    CHECK(e.done->error().code == ERR_OTA_TIMEOUT);
  }
  SUBCASE("stalls past our deadline") {
    OtaEnv e;
    e.cloud.firmware(BULB, 0)->stall = true;
    REQUIRE(e.start(0).ok());
    REQUIRE(e.run_until([&] { return e.done.has_value(); }, 3600000));
    CHECK(e.done->error().code == ERR_OTA_TIMEOUT);
    CHECK(e.timers.now_ms() >= 600000);  // the firmware's own 600 s timeout plus grace
  }
  SUBCASE("already latest") {
    OtaEnv e;
    REQUIRE(e.start(9).ok());
    REQUIRE(e.run_until([&] { return e.done.has_value(); }));
    CHECK(e.done->error().code == ERR_OTA_NO_UPDATE);
    CHECK(e.cloud.count("POST /v2.0/cloud/thing/") == 0);
  }
  SUBCASE("unknown channel") {
    OtaEnv e;
    REQUIRE(e.start(5).ok());
    REQUIRE(e.run_until([&] { return e.done.has_value(); }));
    CHECK(e.done->error().code == ERR_OTA_NO_CHANNEL);
  }
  SUBCASE("preconditions not met") {
    OtaEnv e;
    e.cloud.firmware(BULB, 0)->can_upgrade = false;
    e.cloud.firmware(BULB, 0)->remind = "device is charging";
    REQUIRE(e.start(0).ok());
    REQUIRE(e.run_until([&] { return e.done.has_value(); }));
    CHECK(e.done->error().code == ERR_OTA_CANNOT);
    CHECK(e.done->error().message.find("charging") != std::string::npos);
  }
  SUBCASE("device offline when starting") {
    OtaEnv e;
    e.cloud.device(BULB)->online = false;
    REQUIRE(e.start(0).ok());
    REQUIRE(e.run_until([&] { return e.done.has_value(); }));
    CHECK(e.done->error().code == ERR_OFFLINE);
  }
  SUBCASE("progress queries keep failing") {
    OtaEnv e;
    e.cloud.fail("GET /v2.0/cloud/thing/" + std::string(BULB) + "/firmware/0/progress",
                 fakecloud::Failure{1106, "permission deny", 0, false, false, 10});
    REQUIRE(e.start(0).ok());
    REQUIRE(e.run_until([&] { return e.done.has_value(); }));
    CHECK(e.done->error().code == ERR_PERMISSION);
  }
}

TEST_CASE("an upgrade already running in the cloud is followed, and cancel stops following") {
  OtaEnv e;
  e.cloud.firmware(BULB, 0)->upgrade_status = 2;
  REQUIRE(e.start(0).ok());
  e.timers.advance(1500);
  CHECK(e.cloud.count("POST /v2.0/cloud/thing/") == 0);
  CHECK(e.cloud.count("GET /v2.0/cloud/thing/" + std::string(BULB) + "/firmware/0/progress") >= 1);
  e.ota.cancel(BULB);
  REQUIRE(e.done.has_value());
  CHECK(e.done->error().code == ERR_CANCELLED);
  CHECK_FALSE(e.ota.busy(BULB));
  const int polls = e.cloud.count("GET /v2.0/cloud/thing/" + std::string(BULB) + "/firmware/0/progress");
  e.timers.advance(10000);
  CHECK(e.cloud.count("GET /v2.0/cloud/thing/" + std::string(BULB) + "/firmware/0/progress") == polls);
}

}  // namespace t2m_ota_test
