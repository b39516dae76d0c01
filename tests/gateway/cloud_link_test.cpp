// CloudLink without a cloud: the answers it gives before any request leaves (error codes of firmware
// requests, refused cloud commands), the firmware state it publishes from upgrade-status pushes, and its
// health with push messages off. Paths that reach the OpenAPI are covered by tests/integration/cloud_test.
#include "gateway/cloud_link.h"

#include <doctest/doctest.h>

#include <optional>

#include "cloud/ota.h"
#include "common/loop_executor.h"
#include "common/uv_handle.h"
#include "gateway/error_code.h"
#include "tests/gateway/gateway_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_cloud_link_test {

using namespace t2m;
using namespace t2m::gw;
using namespace t2m::gw::testing;

namespace {

// A real loop for the link's curl client and executor (nothing runs on it: no request is sent), the
// gateway core on the harness's fakes.
struct LinkEnv {
  uv_loop_t loop{};
  std::unique_ptr<LoopExecutor> executor;
  Harness h;
  std::unique_ptr<CloudLink> link;

  explicit LinkEnv(bool allow_cloud_commands = false) {
    REQUIRE(uv_loop_init(&loop) == 0);
    executor = std::make_unique<LoopExecutor>(&loop);
    config::CloudConfig c;
    c.access_id = "fakeclientid00000001";
    c.access_secret = "fakesecret0123456789abcdefghijklm";
    c.base_url = "http://127.0.0.1:9";  // never reached by these tests
    c.allow_cloud_commands = allow_cloud_commands;
    link = std::make_unique<CloudLink>(&loop, h.timers, *executor, c);
    REQUIRE(link->start(h.registry(), h.state()).ok());
  }
  ~LinkEnv() {
    link.reset();
    executor->close();
    executor.reset();
    CHECK(uv_close_all_and_drain(&loop) == 0);
  }

  // The answer to a firmware request that is refused at once.
  Error refused(const std::string& path, const nlohmann::json& data) {
    std::optional<Result<nlohmann::json>> out;
    link->firmware_request(path, data, [&](Result<nlohmann::json> r) { out.emplace(std::move(r)); });
    REQUIRE(out.has_value());
    REQUIRE_FALSE(out->ok());
    return out->error();
  }

  void push_upgrade(int status) {
    cloud::push::UpgradeStatus ev;
    ev.dev_id = PLUG;
    ev.status = status;
    cloud::push::PushMessage m;
    m.event = ev;
    link->on_push(m);
  }
};

}  // namespace

TEST_CASE("cloud link: firmware requests it cannot serve keep their wire error codes") {
  LinkEnv e;
  const Error no_id = e.refused("device/ota_update/check", nlohmann::json::object());
  CHECK(no_id.code == "bad_request");
  CHECK(is(no_id, ErrorCode::BAD_REQUEST));
  const Error unknown = e.refused("device/ota_update/update", {{"id", "nosuch"}});
  CHECK(unknown.code == "unknown_device");
  CHECK(unknown.message.find("nosuch") != std::string::npos);
  const Error path = e.refused("device/ota_update/rollback", "plug");
  CHECK(path.code == "unknown_request");
  CHECK(path.message ==
        "unknown request 'device/ota_update/rollback': use device/ota_update/check or /update");
}

TEST_CASE("cloud link: commands go to the cloud only when allowed and every DP has a code") {
  {
    LinkEnv off;
    CHECK_FALSE(off.link->send_command(PLUG, {{"1", true}}, [](Status) {}));
  }
  LinkEnv on(true);
  CHECK_FALSE(on.link->send_command("nosuch", {{"1", true}}, [](Status) {}));
  CHECK_FALSE(on.link->send_command(PLUG, {{"999", true}}, [](Status) {}));  // no DP code known
  CHECK(on.link->stats().cloud_commands == 0);
}

TEST_CASE("cloud link: upgrade-status pushes publish the firmware state") {
  LinkEnv e;
  using S = cloud::UpgradeStatus;
  const std::pair<S, const char*> cases[] = {
      {S::AVAILABLE, "available"}, {S::UPGRADING, "updating"}, {S::QUEUED, "updating"},
      {S::PREPARING, "updating"},  {S::DONE, "idle"},          {S::FAILED, "idle"},
  };
  for (const auto& status_state : cases) {
    const S status = status_state.first;
    const char* const state = status_state.second;
    CAPTURE(static_cast<int>(status));
    e.push_upgrade(static_cast<int>(status));
    const Device* d = e.h.registry().find(PLUG);
    REQUIRE(d != nullptr);
    CHECK(d->update["state"] == state);
    CHECK(d->update["status"] == cloud::upgrade_status_name(static_cast<int>(status)));
  }
  CHECK(e.link->stats().push_events == std::size(cases));
}

TEST_CASE("cloud link: health with push messages off") {
  LinkEnv e;
  const nlohmann::json h = e.link->health();
  CHECK(h["push"]["transport"] == "off");
  CHECK(h["push"]["state"] == "off");
  CHECK(h["cloud_commands"] == 0);
}

}  // namespace t2m_cloud_link_test
