#include "cloud/wizard.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/uv_handle.h"
#include "tests/cloud/cloud_test_util.h"
#include "tests/fakecloud/fake_cloud_server.h"

using namespace t2m;
using namespace t2m::cloud;
using nlohmann::json;
using t2m::cloud::testing::Env;

namespace {

const char* const BULB = "bf0000000000000bulb1";
const char* const SENSOR = "bf0000000000000sens1";
const char* const GATEWAY = "bf00000000000000gw01";

std::string temp_path(const char* name) {
  std::string p = std::string(T2M_BINARY_DIR) + "/cloud_wizard_" + name;
  std::remove(p.c_str());
  return p;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str(), nullptr, false);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const json* find_id(const json& list, const std::string& id) {
  for (const auto& e : list) {
    if (e.contains("id") && e["id"] == id) return &e;
  }
  return nullptr;
}

// The fake cloud served over loopback from its own thread, for the blocking *_main entry points.
class ServerThread {
 public:
  ServerThread() {
    REQUIRE(uv_loop_init(&loop_) == 0);
    timers_ = std::make_unique<UvTimers>(&loop_);
    cloud_ = std::make_unique<fakecloud::FakeCloud>(*timers_);
    fakecloud::populate_demo(*cloud_);
    server_ = std::make_unique<fakecloud::FakeCloudServer>(&loop_, *cloud_);
    REQUIRE(server_->listen(0).ok());
    stop_.init(
        [&](uv_async_t* a) { return uv_async_init(&loop_, a, [](uv_async_t* h) { uv_stop(h->loop); }); });
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~ServerThread() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    uv_async_send(stop_.get());
    thread_.join();
    stop_.close();
    server_.reset();
    timers_.reset();
    uv_close_all_and_drain(&loop_);
  }
  fakecloud::FakeCloud& cloud() { return *cloud_; }  // touch only while stopped or before start
  std::string url() const { return server_ ? server_->base_url() : std::string(); }

 private:
  uv_loop_t loop_{};
  std::unique_ptr<UvTimers> timers_;
  std::unique_ptr<fakecloud::FakeCloud> cloud_;
  std::unique_ptr<fakecloud::FakeCloudServer> server_;
  UvHandle<uv_async_t> stop_;
  std::thread thread_;
};

int call_main(int (*fn)(int, char**), std::vector<std::string> args, std::string* out = nullptr,
              const std::string& input = "") {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::stringstream captured, in(input);
  auto* old_out = std::cout.rdbuf(captured.rdbuf());
  auto* old_in = std::cin.rdbuf(in.rdbuf());
  const int rc = fn(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cin.rdbuf(old_in);
  if (out) *out = captured.str();
  return rc;
}

}  // namespace

TEST_CASE("device list entries carry tinytuya's keys and the DP mapping") {
  DeviceInfo d;
  d.id = "dev1";
  d.name = "Plug";
  d.local_key = "0123456789abcdef";
  d.sub = true;
  d.node_id = "node1";
  d.gateway_id = "gw1";
  d.online = true;
  Specification spec;
  DpSpec s;
  s.dp_id = 1;
  s.code = "switch_1";
  s.type = "Boolean";
  spec.functions.push_back(s);
  DpSpec nodp;
  nodp.code = "no_dp";
  spec.status.push_back(nodp);
  json e = device_list_entry(d, mapping_from_spec(spec));
  for (const char* k :
       {"name", "id", "key", "mac", "uuid", "category", "product_name", "product_id", "biz_type", "model",
        "sub", "icon", "ip", "version", "mapping", "node_id", "parent"}) {
    CHECK_MESSAGE(e.contains(k), k);
  }
  CHECK(e["key"] == "0123456789abcdef");
  CHECK(e["parent"] == "gw1");
  CHECK(e["mapping"]["1"]["code"] == "switch_1");
  CHECK(e["mapping"].size() == 1);
  CHECK(e["online"] == true);
}

TEST_CASE("merging a refresh keeps LAN facts and user keys, reports key changes, renames and removals") {
  json old_list = json::array({
      {{"id", "a"},
       {"name", "A"},
       {"key", "oldkeyAAAAAAAAAA"},
       {"ip", "192.168.1.5"},
       {"version", "3.3"},
       {"mine", 1},
       {"mapping", {{"1", {{"code", "x"}}}}}},
      {{"id", "b"}, {"name", "B"}, {"key", "keyBBBBBBBBBBBBB"}},
      {{"id", "gone"}, {"name", "Gone"}, {"key", "keyGGGGGGGGGGGGG"}},
  });
  json fresh = json::array({
      {{"id", "a"},
       {"name", "A"},
       {"key", "newkeyAAAAAAAAAA"},
       {"ip", ""},
       {"version", ""},
       {"mapping", json::object()}},
      {{"id", "b"}, {"name", "B2"}, {"key", "keyBBBBBBBBBBBBB"}},
      {{"id", "c"}, {"name", "C"}, {"key", "keyCCCCCCCCCCCCC"}},
  });
  std::vector<DeviceListChange> changes;
  json m = merge_device_lists(old_list, fresh, changes);
  REQUIRE(m.size() == 4);
  CHECK(m[0]["key"] == "newkeyAAAAAAAAAA");
  CHECK(m[0]["ip"] == "192.168.1.5");
  CHECK(m[0]["version"] == "3.3");
  CHECK(m[0]["mine"] == 1);
  CHECK(m[0]["mapping"]["1"]["code"] == "x");
  CHECK(m[1]["name"] == "B2");
  CHECK(m[3]["id"] == "gone");
  REQUIRE(changes.size() == 4);
  CHECK(changes[0].kind == DeviceListChange::Kind::KEY_CHANGED);
  CHECK(changes[1].kind == DeviceListChange::Kind::RENAMED);
  CHECK(changes[2].kind == DeviceListChange::Kind::ADDED);
  CHECK(changes[3].kind == DeviceListChange::Kind::REMOVED);
  for (const auto& c : changes) CHECK(c.detail.find("key") == std::string::npos);
}

TEST_CASE("private files are written atomically with mode 0600") {
  const std::string path = temp_path("private.json");
  REQUIRE(write_private_file(path, "[]\n").ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(write_private_file(path, "[1]\n").ok());
  CHECK(slurp(path) == "[1]\n");
  CHECK_FALSE(write_private_file("/nonexistent-dir/x.json", "[]").ok());
  auto l = read_device_list(path);
  REQUIRE(l.ok());
  CHECK(l->size() == 1);
  std::ofstream(path) << "{\"devices\": [{\"id\": \"x\"}]}";
  CHECK(read_device_list(path)->size() == 1);
  std::ofstream(path) << "nope";
  CHECK_FALSE(read_device_list(path).ok());
  CHECK(read_device_list(temp_path("absent.json"))->empty());
  std::remove(path.c_str());
}

TEST_CASE("run_wizard: owner from one device, all devices with keys, mapping, sub-device parent") {
  Env e;
  const std::string path = temp_path("devices.json");
  WizardOptions wo;
  wo.device_id = BULB;
  wo.out_path = path;
  auto r = e.wait<WizardReport>([&](auto cb) { run_wizard(*e.api, wo, std::move(cb)); });
  REQUIRE(r.has_value());
  REQUIRE(r->ok());
  CHECK(r->value().owner_uid == "ay1700000000000owner");
  CHECK(r->value().devices == 4);
  CHECK(r->value().sub_devices == 1);
  CHECK(r->value().with_mapping == 3);  // the gateway has no DPs
  json list = read_json(path);
  REQUIRE(list.is_array());
  const json* bulb = find_id(list, BULB);
  REQUIRE(bulb);
  CHECK((*bulb)["key"] == "k3yBulb0000000001");
  CHECK((*bulb)["mac"] == "a4:cf:12:00:00:01");
  CHECK((*bulb)["mapping"]["21"]["values"]["range"][1] == "colour");
  CHECK((*bulb)["mapping"]["22"]["values"]["max"] == 1000);
  const json* sensor = find_id(list, SENSOR);
  REQUIRE(sensor);
  CHECK((*sensor)["parent"] == GATEWAY);
  CHECK((*sensor)["node_id"] == "a4c1380000000001");
  CHECK((*sensor)["sub"] == true);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  SUBCASE("refresh reports a re-paired device") {
    e.cloud.device(BULB)->local_key = "k3yBulbRepaired01";
    wo.refresh = true;
    auto r2 = e.wait<WizardReport>([&](auto cb) { run_wizard(*e.api, wo, std::move(cb)); });
    REQUIRE(r2->ok());
    REQUIRE(r2->value().changes.size() == 1);
    CHECK(r2->value().changes[0].kind == DeviceListChange::Kind::KEY_CHANGED);
    CHECK(r2->value().changes[0].id == BULB);
    CHECK((*find_id(read_json(path), BULB))["key"] == "k3yBulbRepaired01");
  }
  SUBCASE("errors") {
    WizardOptions none;
    none.out_path = path;
    auto r3 = e.wait<WizardReport>([&](auto cb) { run_wizard(*e.api, none, std::move(cb)); });
    CHECK(r3->error().code == ERR_BAD_REQUEST);
    wo.device_id = "unknown-device";
    auto r4 = e.wait<WizardReport>([&](auto cb) { run_wizard(*e.api, wo, std::move(cb)); });
    CHECK(r4->error().code == ERR_NOT_FOUND);
  }
  std::remove(path.c_str());
}

TEST_CASE("wizard_main and history_main end to end over loopback HTTP") {
  ServerThread srv;
  const std::string devices = temp_path("main_devices.json");
  const std::string csv = temp_path("main_history.csv");
  fakecloud::FakeCloud::Options defaults;
  std::string out;

  CHECK(call_main(wizard_main, {"wizard", "--help"}, &out) == 0);
  CHECK(out.find("--refresh") != std::string::npos);
  CHECK(call_main(wizard_main, {"wizard", "--bogus"}) == 2);
  CHECK(call_main(wizard_main, {"wizard", "--no-input", "--access-id", "x"}) == 2);  // no secret

  // Secret and device id come from stdin prompts; the secret must not be echoed in the output.
  const int rc = call_main(
      wizard_main, {"wizard", "--access-id", defaults.client_id, "--base-url", srv.url(), "--out", devices},
      &out, defaults.secret + "\n" + BULB + "\n");
  CHECK(rc == 0);
  CHECK(out.find("Wrote 4 devices") != std::string::npos);
  CHECK(out.find(defaults.secret) == std::string::npos);
  CHECK(out.find("k3yBulb") == std::string::npos);
  CHECK(read_json(devices).size() == 4);

  CHECK(call_main(wizard_main,
                  {"wizard", "--no-input", "--refresh", "--access-id", defaults.client_id, "--secret",
                   defaults.secret, "--base-url", srv.url(), "--device-id", BULB, "--out", devices},
                  &out) == 0);
  CHECK(out.find("Nothing changed") != std::string::npos);

  CHECK(call_main(wizard_main,
                  {"wizard", "--no-input", "--access-id", defaults.client_id, "--secret",
                   "wrong-secret-000000000000000000", "--base-url", srv.url(), "--device-id", BULB, "--out",
                   devices},
                  &out) == 1);

  CHECK(call_main(history_main, {"history", "--help"}, &out) == 0);
  CHECK(call_main(history_main, {"history", BULB}) == 2);  // no --out
  CHECK(call_main(history_main,
                  {"history", "Desk Lamp", "--no-input", "--access-id", defaults.client_id, "--secret",
                   defaults.secret, "--base-url", srv.url(), "--devices", devices, "--codes", "switch_led",
                   "--since", "1d", "--out", csv},
                  &out) == 0);
  CHECK(out.find("Appended 0 new events") != std::string::npos);
  CHECK(slurp(csv).rfind("event_time_ms,", 0) == 0);
  CHECK(call_main(history_main,
                  {"history", BULB, "--no-input", "--access-id", defaults.client_id, "--secret",
                   defaults.secret, "--base-url", srv.url(), "--since", "never", "--out", csv}) == 2);
  srv.stop();
  CHECK(srv.cloud().count("GET /v2.1/cloud/thing/" + std::string(BULB) + "/report-logs") == 1);
  CHECK(srv.cloud().sign_rejects() == 1);  // only the deliberate wrong secret
  std::remove(devices.c_str());
  std::remove(csv.c_str());
}
