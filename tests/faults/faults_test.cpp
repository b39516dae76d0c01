// Faults under load: the broker killed with SIGKILL while commands flow, 10% of the devices rebooting,
// going silent or changing their key while the others carry load, devices sending garbage, oversize
// frames or frames of another device, and malformed MQTT commands of every kind. Plus a short soak.
// Everything on loopback with a real mosquitto, the in-process simulator and the gateway App.
#include <doctest/doctest.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "mqtt/payload.h"
#include "tests/support/gateway_fixture.h"
#include "tests/support/mqtt_wire.h"
#include "tests/support/per_case.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_faults_test {

using namespace t2m;
using namespace t2m::test;
using nlohmann::json;

namespace {

constexpr int COUNTDOWN_BASE = 1000;  // countdown values used as unique command ids (far from 0: no expiry)

// A fleet of `plugs` plugs on the loopback block `host_prefix` (tests/support/gateway_fixture.h).
FixtureOptions fleet(size_t plugs, const std::string& host_prefix, int heartbeat_s = 2) {
  FixtureOptions o;
  o.devices = plug_fleet(plugs, host_prefix, {}, heartbeat_s);
  return o;
}

sim::Fault fault(sim::FaultKind kind, uint32_t ms = 0) {
  sim::Fault f;
  f.kind = kind;
  f.ms = ms;
  return f;
}

// The frames of device `name` the gateway refused as bad plus the reports it took, from health_check.
uint64_t frames_handled(GatewayFixture& f, const std::string& name) {
  const json d = f.device_health(name);
  const uint64_t bad = d.contains("session") ? d["session"].value("bad_frames", uint64_t{0}) : 0;
  return bad + d.value("reports", uint64_t{0});
}

// Every countdown value (DP 9) the simulator received, per device id.
std::map<std::string, std::set<int>> written_countdowns(const sim::Simulator& s) {
  std::map<std::string, std::set<int>> out;
  for (const auto& w : s.writes()) {
    if (w.dps.contains("9") && w.dps["9"].is_number_integer()) out[w.device].insert(w.dps["9"].get<int>());
  }
  return out;
}

}  // namespace

TEST_CASE("broker SIGKILLed and restarted while commands flow: every accepted command reaches its device") {
  GatewayFixture f(fleet(4, "127.0.5."));
  f.start_gateway();
  REQUIRE(f.wait([&] { return f.all_online(); }));

  struct Sent {
    size_t device;
    int value;
  };
  // Commands each phase sends at the least (one per PUBACK plus 15 ms: about a second of load).
  constexpr size_t PHASE_COMMANDS = 30;
  std::mutex mu;
  std::condition_variable resumed;
  std::vector<Sent> accepted;  // PUBACK received
  size_t refused = 0;          // no PUBACK (broker gone): not the gateway's to deliver
  // mosquitto may send a PUBACK before it has written the PUBLISH to its subscribers; without persistence,
  // a SIGKILL in between loses that one message inside the broker. Only the command accepted last before
  // the broker went down can be in that window (the commander waits for each PUBACK, then 15 ms).
  std::optional<size_t> in_broker_at_kill;
  bool resume = true;  // under mu
  std::atomic<bool> stop{false}, paused{false}, finished{false};
  auto accepted_count = [&] {
    std::lock_guard<std::mutex> l(mu);
    return accepted.size();
  };
  const uint16_t port = f.broker.port();
  std::thread commander([&] {
    test::wire::BlockingPublisher pub;
    int value = COUNTDOWN_BASE;
    while (!stop) {
      if (!pub.connected()) {
        {
          std::unique_lock<std::mutex> l(mu);
          resumed.wait(l, [&] { return resume || stop; });
        }
        if (stop) break;
        if (!pub.connect(port, "t2m-faults-commander")) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));  // pacing its retries
          continue;
        }
      }
      const size_t dev = static_cast<size_t>(value) % 4;
      const std::string topic = "tuya2mqtt/" + fleet_name(dev) + "/set";
      const std::string payload = json{{"countdown_1", value}}.dump();
      const bool ok = pub.publish_qos1(topic, payload);
      {
        std::lock_guard<std::mutex> l(mu);
        if (ok) {
          accepted.push_back({dev, value});
        } else {
          if (refused == 0 && !accepted.empty()) in_broker_at_kill = accepted.size() - 1;
          ++refused;
          // The broker is gone: wait for the test to say the gateway is back before sending again, so no
          // command lands on a broker that has no subscriber yet (without persistence it would drop it).
          resume = false;
        }
      }
      ++value;
      if (!ok) paused = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(15));  // pacing its sends
    }
    pub.disconnect();
    finished = true;
  });
  auto stop_commander = [&] {
    {
      std::lock_guard<std::mutex> l(mu);
      stop = true;
    }
    resumed.notify_all();
  };
  // A failed REQUIRE below still stops and joins it.
  struct Joiner {
    std::function<void()> fn;
    ~Joiner() { fn(); }
  } joiner{[&] {
    stop_commander();
    if (commander.joinable()) commander.join();
  }};

  REQUIRE(f.wait([&] { return accepted_count() >= PHASE_COMMANDS; }));
  f.broker.kill();
  REQUIRE(f.wait([&] { return paused.load(); }, 5000));
  // The gateway noticed before the broker comes back.
  REQUIRE(f.wait([&] { return !f.gateway_connected(); }, 5000));
  f.last.clear();
  REQUIRE(f.broker.start());
  // The gateway subscribes before it republishes bridge/state, so once that is back commands are safe.
  REQUIRE(f.wait([&] { return f.last["tuya2mqtt/bridge/state"] == R"({"state":"online"})"; }, 15000));
  const size_t before_resume = accepted_count();
  {
    std::lock_guard<std::mutex> l(mu);
    resume = true;
  }
  resumed.notify_all();
  CHECK(f.wait([&] { return accepted_count() >= before_resume + PHASE_COMMANDS; }));
  stop_commander();
  // Keep the loop running while the commander finishes its last publish.
  CHECK(f.wait([&] { return finished.load(); }, 5000));
  commander.join();

  std::vector<Sent> acc;
  {
    std::lock_guard<std::mutex> l(mu);
    acc = accepted;
  }
  REQUIRE(acc.size() > 50);
  // Every accepted command reaches its device (bounded wait).
  auto missing = [&] {
    auto got = written_countdowns(*f.simulator);
    size_t n = 0;
    for (size_t i = 0; i < acc.size(); ++i)
      if (i != in_broker_at_kill && !got[fleet_id(acc[i].device)].count(acc[i].value)) ++n;
    return n;
  };
  f.wait([&] { return missing() == 0; }, 10000);
  const bool lost_in_broker =
      in_broker_at_kill && !written_countdowns(*f.simulator)[fleet_id(acc[*in_broker_at_kill].device)].count(
                               acc[*in_broker_at_kill].value);
  MESSAGE("commands accepted by the broker: "
          << acc.size() << ", refused while it was down: " << refused << ", missing at the device: "
          << missing() << (lost_in_broker ? " (+1 lost inside the SIGKILLed broker)" : ""));
  CHECK(missing() == 0);

  // Afterwards: each device's retained state and availability on the (fresh) broker are right.
  const auto last_of = [&](size_t dev) {
    int v = 0;
    for (const auto& s : acc)
      if (s.device == dev) v = s.value;
    return v;
  };
  REQUIRE(f.wait([&] {
    for (size_t i = 0; i < 4; ++i) {
      auto st = f.state(fleet_name(i));
      if (!st.is_object() || st.value("countdown_1", -1) != last_of(i)) return false;
    }
    return true;
  }));
  // A new subscriber gets them from the broker as retained messages.
  std::map<std::string, test::MqttMessage> fresh;  // topic -> last message
  test::LoopMqttClient::Options so;
  so.port = f.broker.port();
  so.client_id = "t2m-faults-fresh";
  so.subscriptions = {"tuya2mqtt/#"};
  test::LoopMqttClient sub(&f.loop, so, [&](test::MqttMessage m) { fresh[m.topic] = std::move(m); });
  sub.start();
  REQUIRE(f.wait(
      [&] {
        for (size_t i = 0; i < 4; ++i)
          if (!fresh.count("tuya2mqtt/" + fleet_name(i)) ||
              !fresh.count("tuya2mqtt/" + fleet_name(i) + "/availability"))
            return false;
        return fresh.count("tuya2mqtt/bridge/state") > 0;
      },
      5000));
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    const auto& st = fresh["tuya2mqtt/" + fleet_name(i)];
    CHECK(st.retained);
    auto sj = json::parse(st.payload);
    CHECK(sj["countdown_1"] == f.simulator->state(fleet_id(i)).value()["9"]);
    const auto& av = fresh["tuya2mqtt/" + fleet_name(i) + "/availability"];
    CHECK(av.retained);
    CHECK(av.payload == R"({"state":"online"})");
  }
  CHECK(fresh["tuya2mqtt/bridge/state"].payload == R"({"state":"online"})");
}

namespace {

// Sends commands round-robin to `targets` for `ms`, one every `gap_ms`, each with a transaction; returns
// the latencies (publish -> set/result) of the answers and counts the ones that were not "ok".
struct LoadResult {
  std::vector<double> latencies;
  size_t sent = 0;
  size_t errors = 0;
  size_t unanswered = 0;
};
LoadResult run_load(GatewayFixture& f, const std::vector<size_t>& targets, int ms, int gap_ms, int& next_tx) {
  LoadResult r;
  std::map<int, double> pending;
  f.on_message = [&](const test::MqttMessage& m) {
    if (m.topic.size() < 11 || m.topic.compare(m.topic.size() - 11, 11, "/set/result") != 0) return;
    auto j = json::parse(m.payload, nullptr, false);
    if (!j.is_object() || !j.contains("transaction") || !j["transaction"].is_number_integer()) return;
    auto it = pending.find(j["transaction"].get<int>());
    if (it == pending.end()) return;
    r.latencies.push_back(now_ms() - it->second);
    if (j["status"] != "ok") ++r.errors;
    pending.erase(it);
  };
  const double end = now_ms() + ms;
  size_t k = 0;
  while (now_ms() < end) {
    const size_t dev = targets[k++ % targets.size()];
    const int tx = next_tx++;
    pending[tx] = now_ms();
    f.publish("tuya2mqtt/" + fleet_name(dev) + "/set",
              json{{"countdown_1", COUNTDOWN_BASE + tx}, {"transaction", tx}}.dump());
    ++r.sent;
    test::run_loop_for(&f.loop, gap_ms);
  }
  f.wait([&] { return pending.empty(); }, 8000);
  r.unanswered = pending.size();
  f.on_message = nullptr;
  return r;
}

}  // namespace

TEST_CASE("10% of the devices reboot, go silent or change key: the others' latency is unaffected") {
  constexpr size_t PLUGS = 30;
  GatewayFixture f(fleet(PLUGS, "127.0.6.", 1));
  f.start_gateway();
  REQUIRE(f.wait([&] { return f.all_online(); }, 20000));

  const size_t REBOOTING = 0, SILENT = 1, REKEYED = 2;
  std::vector<size_t> healthy;
  for (size_t i = 3; i < PLUGS; ++i) healthy.push_back(i);
  int tx = 1;
  auto base = run_load(f, healthy, 3000, 25, tx);

  const size_t mark = f.seen.size();
  REQUIRE(f.simulator->inject(fleet_id(REBOOTING), fault(sim::FaultKind::REBOOT, 3000)).ok());
  REQUIRE(f.simulator->inject(fleet_id(SILENT), fault(sim::FaultKind::SILENCE, 6000)).ok());
  sim::Fault rekey = fault(sim::FaultKind::CHANGE_KEY);
  const std::string new_key = "NewFleetKey00002";
  rekey.key = new_key;
  REQUIRE(f.simulator->inject(fleet_id(REKEYED), rekey).ok());
  auto faulty = run_load(f, healthy, 5000, 25, tx);

  MESSAGE("fault-free: " << base.sent << " commands, p50 " << percentile(base.latencies, 0.5) << " ms, p95 "
                         << percentile(base.latencies, 0.95) << " ms; with 3/30 faulty: " << faulty.sent
                         << " commands, p50 " << percentile(faulty.latencies, 0.5) << " ms, p95 "
                         << percentile(faulty.latencies, 0.95) << " ms");
  CHECK(base.errors == 0);
  CHECK(base.unanswered == 0);
  CHECK(faulty.errors == 0);
  CHECK(faulty.unanswered == 0);
  // Generous: a shared 2-core machine jitters, but a stalled loop (a blocking reconnect, a retry storm)
  // would add whole seconds.
  CHECK(percentile(faulty.latencies, 0.5) <= std::max(3 * percentile(base.latencies, 0.5), 150.0));
  CHECK(percentile(faulty.latencies, 0.95) <= std::max(3 * percentile(base.latencies, 0.95), 500.0));

  // The faulty ones were reported: offline, and the key problem as a bridge event.
  std::set<std::string> went_offline;
  bool key_event = false;
  for (size_t i = mark; i < f.seen.size(); ++i) {
    const auto& m = f.seen[i];
    if (m.payload == R"({"state":"offline"})") went_offline.insert(m.topic);
    if (m.topic == "tuya2mqtt/bridge/event" && m.payload.find("device_error") != std::string::npos &&
        m.payload.find(fleet_id(REKEYED)) != std::string::npos &&
        m.payload.find("wrong_key") != std::string::npos)
      key_event = true;
  }
  for (size_t i : {REBOOTING, SILENT, REKEYED}) {
    CAPTURE(i);
    CHECK(went_offline.count("tuya2mqtt/" + fleet_name(i) + "/availability") == 1);
  }
  for (size_t i : healthy) CHECK(went_offline.count("tuya2mqtt/" + fleet_name(i) + "/availability") == 0);
  if (!key_event) {
    key_event = f.wait([&] {
      for (size_t i = mark; i < f.seen.size(); ++i)
        if (f.seen[i].topic == "tuya2mqtt/bridge/event" &&
            f.seen[i].payload.find("wrong_key") != std::string::npos)
          return true;
      return false;
    });
  }
  CHECK(key_event);

  // Recovery: the rebooted and silent ones come back by themselves; the re-keyed one once it is given
  // its new key (bridge/request/device/options), as a user would.
  f.publish(
      "tuya2mqtt/bridge/request/device/options",
      json{{"id", fleet_name(REKEYED)}, {"options", {{"local_key", new_key}}}, {"transaction", 7}}.dump());
  REQUIRE(f.wait([&] { return f.all_online(); }, 20000));
  const size_t m2 = f.seen.size();
  f.publish("tuya2mqtt/" + fleet_name(REKEYED) + "/set", R"({"switch_1": false, "transaction": 99})");
  auto r = f.next_json("tuya2mqtt/" + fleet_name(REKEYED) + "/set/result", m2);
  REQUIRE(r.is_object());
  CHECK(r["status"] == "ok");
}

TEST_CASE("garbage, oversize and foreign frames: that session is reset or the frame ignored, nothing else") {
  // One world for the four SUBCASEs: each leaves every device online and answering.
  auto& f = test::per_case<GatewayFixture>([] {
    auto w = std::make_unique<GatewayFixture>(fleet(3, "127.0.7."));
    w->start_gateway();
    return w;
  });
  REQUIRE(f.wait([&] { return f.all_online(); }));
  // Device 0's values differ from device 1's, so a foreign STATUS (device 0's values labelled with
  // device 1's id) applied to device 1 would show.
  REQUIRE(f.simulator->set_dps(fleet_id(0), std::nullopt, json{{"20", 2468}, {"1", false}}).ok());
  REQUIRE(f.wait([&] {
    auto s = f.state(fleet_name(0));
    return s.is_object() && s["dps"].value("20", 0) == 2468;
  }));
  const auto before_other = f.state(fleet_name(2));
  const size_t mark = f.seen.size();
  const uint64_t handled = frames_handled(f, fleet_name(0));

  SUBCASE("garbage") {
    sim::Fault g = fault(sim::FaultKind::GARBAGE);
    g.bytes = 300;
    REQUIRE(f.simulator->inject(fleet_id(0), g).ok());
  }
  SUBCASE("oversize") {
    REQUIRE(f.simulator->inject(fleet_id(0), fault(sim::FaultKind::OVERSIZE)).ok());
  }
  SUBCASE("corrupt") {
    REQUIRE(f.simulator->inject(fleet_id(0), fault(sim::FaultKind::CORRUPT)).ok());
  }
  SUBCASE("foreign: a STATUS for another device on this connection") {
    sim::Fault fo = fault(sim::FaultKind::FOREIGN);
    fo.other_id = fleet_id(1);
    REQUIRE(f.simulator->inject(fleet_id(0), fo).ok());
  }
  // The gateway has dealt with the fault once it refused a frame as bad (the session may be reset: offline,
  // then online) or took a report of device 0 after it: the foreign STATUS itself, or the answer to this
  // query, which the device sends after the fault's bytes (garbage may be skipped without a trace).
  f.publish("tuya2mqtt/" + fleet_name(0) + "/get", "");
  REQUIRE(f.wait([&] { return frames_handled(f, fleet_name(0)) > handled; }));
  REQUIRE(f.wait([&] { return f.online(fleet_name(0)); }, 10000));

  // No state of another device changed because of device 0's frames (a foreign STATUS must not be applied
  // to device 1).
  CHECK(f.state(fleet_name(2)) == before_other);
  auto d1 = f.state(fleet_name(1));
  REQUIRE(d1.is_object());
  CHECK(d1["dps"] == f.simulator->state(fleet_id(1)).value());
  // Every device still answers a command, and its new state comes back (so the next SUBCASE starts
  // from a world where nothing is still on its way).
  for (size_t i = 0; i < 3; ++i) {
    const size_t m2 = f.seen.size();
    f.publish("tuya2mqtt/" + fleet_name(i) + "/set", R"({"switch_1": false})");
    auto r = f.next_json("tuya2mqtt/" + fleet_name(i) + "/set/result", m2);
    REQUIRE(r.is_object());
    CHECK(r["status"] == "ok");
    CHECK(f.wait([&] {
      auto st = f.state(fleet_name(i));
      return st.is_object() && st["switch_1"] == false;
    }));
  }
  // And the others never went offline, all this time.
  for (size_t i = mark; i < f.seen.size(); ++i) {
    const auto& m = f.seen[i];
    CHECK_FALSE((m.topic == "tuya2mqtt/" + fleet_name(1) + "/availability" &&
                 m.payload.find("offline") != std::string::npos));
    CHECK_FALSE((m.topic == "tuya2mqtt/" + fleet_name(2) + "/availability" &&
                 m.payload.find("offline") != std::string::npos));
  }
}

TEST_CASE("malformed MQTT commands of every kind get an error answer") {
  GatewayFixture f(fleet(1, "127.0.8."));
  f.start_gateway();
  REQUIRE(f.wait([&] { return f.all_online(); }));
  const std::string dev = "tuya2mqtt/" + fleet_name(0);

  struct SetCase {
    std::string topic, payload, code;
  };
  const std::string huge(mqtt::MAX_COMMAND_PAYLOAD_BYTES + 10, ' ');
  const std::vector<SetCase> set_cases = {
      {dev + "/set", "", "mqtt_payload_empty"},
      {dev + "/set", "   ", "mqtt_payload_empty"},
      {dev + "/set", "{\"switch_1\": tru", "mqtt_payload_invalid_json"},
      {dev + "/set", "[1,2,3]", "mqtt_payload_not_object"},
      {dev + "/set", "42", "mqtt_payload_not_object"},
      {dev + "/set", "BANANA", ""},
      {dev + "/set", "{" + std::string(mqtt::MAX_COMMAND_PAYLOAD_BYTES, ' ') + "}", "mqtt_payload_too_large"},
      {dev + "/set", "\xff\xfe{\"switch_1\":true}", ""},
      {dev + "/set", R"({"switch_1": {"nested": true}})", "dp_type"},
      {dev + "/set", R"({"countdown_1": -5})", "dp_range"},
      {dev + "/set", R"({"countdown_1": "12abc"})", "dp_type"},
      {dev + "/set", R"({"dps": {"999": 1}})", ""},
      {dev + "/set", R"({"dps": "x"})", ""},
      {dev + "/set", R"({"state": "TOGGLE", "switch_1": "maybe"})", ""},
      {dev + "/set/switch_1", "", "mqtt_payload_empty"},
      {dev + "/set/switch_1", "{bad", "mqtt_payload_invalid_json"},
      {dev + "/set/switch_1", huge, "mqtt_payload_too_large"},
      {dev + "/set/no_such_dp", "1", "unknown_property"},
      {dev + "/set/9999", "1", ""},
      {dev + "/set/cur_power", "5", "read_only"},
      {dev + "/set/countdown_1", "\"abc\"", "dp_type"},
      {"tuya2mqtt/ghost/set", R"({"switch_1": true})", "unknown_device"},
      {"tuya2mqtt/ghost/set/switch_1", "true", "unknown_device"},
      {"tuya2mqtt/ghost/get", "", "unknown_device"},
  };
  for (const auto& c : set_cases) {
    CAPTURE(c.topic);
    CAPTURE(c.payload.substr(0, 60));
    const auto slash = c.topic.find("/set");
    const auto name_end = slash != std::string::npos ? slash : c.topic.rfind("/get");
    const std::string result_topic = c.topic.substr(0, name_end) + "/set/result";
    const size_t mark = f.seen.size();
    f.publish(c.topic, c.payload);
    auto r = f.next_json(result_topic, mark, 5000);
    REQUIRE(r.is_object());
    CHECK(r["status"] == "error");
    if (!c.code.empty()) CHECK(r["code"] == c.code);
    CHECK_FALSE(r.value("error", std::string()).empty());
  }

  struct ReqCase {
    std::string path, payload;
  };
  const std::vector<ReqCase> req_cases = {
      {"device/rename", "{not json"},
      {"device/rename", R"({"from": "nobody", "to": "x", "transaction": 1})"},
      {"device/rename", R"({"from": ")" + fleet_name(0) + R"(", "to": "bad/+/name"})"},
      {"device/rename", R"({"from": ")" + fleet_name(0) + R"(", "to": "set"})"},
      {"device/rename", R"({"from": ")" + fleet_name(0) + R"(", "to": ""})"},
      {"device/rename", R"([1, 2])"},
      {"device/add", R"({"id": "short"})"},
      {"device/add", R"({"id": "bfnewdevice000000001", "local_key": "tooshort"})"},
      {"device/add", R"({"id": ")" + fleet_id(0) + R"(", "local_key": "0123456789abcdef"})"},
      {"device/remove", R"({"id": "nobody"})"},
      {"device/options", R"({"id": ")" + fleet_name(0) + R"("})"},
      {"device/options", R"({"id": ")" + fleet_name(0) + R"(", "options": {"heartbeat_interval": "soon"}})"},
      {"device/options", R"({"id": ")" + fleet_name(0) + R"(", "options": {"id": "other"}})"},
      {"no/such/request", "{}"},
      {"health_check", "{" + std::string(mqtt::MAX_REQUEST_PAYLOAD_BYTES, ' ') + "}"},
  };
  for (const auto& c : req_cases) {
    CAPTURE(c.path);
    CAPTURE(c.payload.substr(0, 80));
    const size_t mark = f.seen.size();
    f.publish("tuya2mqtt/bridge/request/" + c.path, c.payload);
    auto r = f.next_json("tuya2mqtt/bridge/response/" + c.path, mark, 5000);
    REQUIRE(r.is_object());
    CHECK(r["status"] == "error");
    CHECK_FALSE(r.value("error", std::string()).empty());
    if (c.payload.find("\"transaction\": 1") != std::string::npos) CHECK(r["transaction"] == 1);
  }
  // Still healthy afterwards, and the device untouched by all of it.
  CHECK(f.online(fleet_name(0)));
  const size_t mark = f.seen.size();
  f.publish(dev + "/set", R"({"switch_1": false})");
  auto r = f.next_json(dev + "/set/result", mark);
  REQUIRE(r.is_object());
  CHECK(r["status"] == "ok");
}

TEST_CASE("short soak: steady load, no lost DP change, heap flat") {
  // The long version is the t2m-soak program (tests/faults/soak_main.cpp).
  constexpr size_t PLUGS = 10;
  GatewayFixture f(fleet(PLUGS, "127.0.9."));
  f.keep_seen = false;
  f.start_gateway();
  REQUIRE(f.wait([&] { return f.all_online(); }));

  constexpr int SOAK_MS = 20000;
  constexpr int STEP_MS = 100;  // one DP change (voltage, DP 20) on one device per step, round-robin
  std::map<std::string, std::set<int>> pushed, received;
  f.on_message = [&](const test::MqttMessage& m) {
    for (size_t i = 0; i < PLUGS; ++i) {
      if (m.topic != "tuya2mqtt/" + fleet_name(i)) continue;
      auto j = json::parse(m.payload, nullptr, false);
      if (j.is_object() && j.contains("dps") && j["dps"].contains("20") && j["dps"]["20"].is_number_integer())
        received[fleet_id(i)].insert(j["dps"]["20"].get<int>());
    }
  };
  std::vector<size_t> heap;
  const double start = now_ms();
  int value = 2000;
  size_t step = 0;
  int tx = 1;
  size_t commands_ok = 0, commands_sent = 0;
  while (now_ms() - start < SOAK_MS) {
    const size_t dev = step++ % PLUGS;
    ++value;
    REQUIRE(f.simulator->set_dps(fleet_id(dev), std::nullopt, json{{"20", value}}).ok());
    pushed[fleet_id(dev)].insert(value);
    if (step % 10 == 0) {
      // A command too, so both directions carry load.
      const size_t m = f.seen.size();
      (void)m;
      f.publish("tuya2mqtt/" + fleet_name(dev) + "/set",
                json{{"switch_1", step % 20 == 0}, {"transaction", tx++}}.dump());
      ++commands_sent;
    }
    test::run_loop_for(&f.loop, STEP_MS);
    if (step % 25 == 0) heap.push_back(mallinfo2().uordblks);
  }
  (void)commands_ok;
  auto lost = [&] {
    size_t n = 0;
    for (const auto& [id, vals] : pushed)
      for (int v : vals)
        if (!received[id].count(v)) ++n;
    return n;
  };
  f.wait([&] { return lost() == 0; }, 5000);
  size_t total = 0;
  for (const auto& [id, vals] : pushed) total += vals.size();
  MESSAGE("soak " << SOAK_MS / 1000 << " s: DP changes pushed " << total << ", lost " << lost()
                  << "; heap in use (KiB) " << heap.front() / 1024 << " -> " << heap[heap.size() / 2] / 1024
                  << " -> " << heap.back() / 1024);
  CHECK(total > 100);
  CHECK(lost() == 0);
  // Heap: the second half of the run must not keep growing beyond noise (first samples include warm-up).
  REQUIRE(heap.size() >= 4);
  const size_t mid = heap[heap.size() / 2];
  CHECK(heap.back() <= mid + mid / 5 + 512 * 1024);
  f.on_message = nullptr;
}

// BUG (reported, issue 6): a bare value that is not UTF-8 on <name>/set/<dp> (e.g. the byte 0xFF) is
// passed by mqtt::parse_bare_value as a string to model::command_to_dps -> proto::value_to_wire, whose
// error path (protocol/dps.cpp quote() -> json::dump() without an error handler) throws
// nlohmann::type_error 316 on the loop thread: the gateway terminates. Expected: an error answer on
// set/result. Skipped until fixed; remove the skip decorator to check the fix.
TEST_CASE("a bare value that is not UTF-8 gets an error answer") {
  GatewayFixture f(fleet(1, "127.0.8."));
  f.start_gateway();
  REQUIRE(f.wait([&] { return f.all_online(); }));
  for (const char* dp : {"switch_1", "countdown_1"}) {
    CAPTURE(dp);
    const size_t mark = f.seen.size();
    f.publish("tuya2mqtt/" + fleet_name(0) + "/set/" + dp, "\xff\xfe");
    auto r = f.next_json("tuya2mqtt/" + fleet_name(0) + "/set/result", mark);
    REQUIRE(r.is_object());
    CHECK(r["status"] == "error");
  }
}

}  // namespace t2m_faults_test
