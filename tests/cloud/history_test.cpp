#include "cloud/history.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/cloud/cloud_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_history_test {

using namespace t2m;
using namespace t2m::cloud;
using t2m::cloud::testing::Env;

namespace {

const char* const PLUG = "bf0000000000000plug1";

std::string temp_path(const char* name) {
  std::string p = std::string(T2M_BINARY_DIR) + "/cloud_history_" + name + ".csv";
  std::remove(p.c_str());
  return p;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Fills the plug with `n` events, one per minute ending at `end`.
void add_events(Env& e, int n, int64_t end) {
  for (int i = 0; i < n; ++i) {
    e.cloud.add_log(PLUG, {"switch_1", i % 2 ? "true" : "false", end - (n - 1 - i) * 60000LL});
    e.cloud.add_log(PLUG, {"cur_voltage", std::to_string(2200 + i), end - (n - 1 - i) * 60000LL});
  }
}

std::optional<Result<HistoryResult>> run_export(Env& e, HistoryRequest req) {
  return e.wait<HistoryResult>(
      [&](Callback<HistoryResult> cb) { export_history(*e.api, req, e.timers.unix_ms(), std::move(cb)); });
}

}  // namespace

TEST_CASE("CSV helpers quote and read back") {
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  auto f = parse_csv_line("1,\"a,b\",\"say \"\"hi\"\"\",,x\n");
  REQUIRE(f.size() == 5);
  CHECK(f[1] == "a,b");
  CHECK(f[2] == "say \"hi\"");
  CHECK(f[3].empty());
  CHECK(iso_utc(1700000000123) == "2023-11-14T22:13:20.123Z");
}

TEST_CASE("time arguments") {
  const int64_t now = 1700000000000;
  CHECK(*parse_time_arg("1700000000000", now) == 1700000000000);
  CHECK(*parse_time_arg("1700000000", now) == 1700000000000);
  CHECK(*parse_time_arg("2023-11-14", now) == 1699920000000);
  CHECK(*parse_time_arg("2023-11-14T22:13:20Z", now) == 1700000000000);
  CHECK(*parse_time_arg("7d", now) == now - 7 * 86400000LL);
  CHECK(*parse_time_arg("12h", now) == now - 12 * 3600000LL);
  CHECK(*parse_time_arg("30m", now) == now - 30 * 60000LL);
  CHECK_FALSE(parse_time_arg("yesterday", now).ok());
  CHECK_FALSE(parse_time_arg("2023-13-01", now).ok());
  CHECK_FALSE(parse_time_arg("", now).ok());
}

TEST_CASE("report logs are walked backwards over every page, oldest first on return") {
  Env e;
  const int64_t now = e.timers.unix_ms();
  add_events(e, 120, now - 1000);
  auto r = e.wait<std::vector<ReportLog>>([&](auto cb) {
    fetch_report_logs(*e.api, PLUG, {"switch_1", "cur_voltage"}, now - 86400000, now, std::move(cb));
  });
  REQUIRE(r->ok());
  CHECK(r->value().size() == 240);
  CHECK(e.cloud.count("GET /v2.1/cloud/thing/") == 5);  // 240 / 50
  for (size_t i = 1; i < r->value().size(); ++i)
    CHECK(r->value()[i - 1].event_time <= r->value()[i].event_time);
}

TEST_CASE("camelCase answers and a looping cursor") {
  fakecloud::FakeCloud::Options o;
  o.camel_case = true;
  Env e(o);
  const int64_t now = e.timers.unix_ms();
  add_events(e, 30, now - 1000);
  auto r = e.wait<std::vector<ReportLog>>([&](auto cb) {
    fetch_report_logs(*e.api, PLUG, {"switch_1"}, now - 86400000, now, std::move(cb), 10);
  });
  REQUIRE(r->ok());
  CHECK(r->value().size() == 30);

  e.cloud.options().logs_cursor_loop = true;
  auto loop = e.wait<std::vector<ReportLog>>([&](auto cb) {
    fetch_report_logs(*e.api, PLUG, {"switch_1"}, now - 86400000, now, std::move(cb), 10);
  });
  REQUIRE(loop->ok());  // the walk stops instead of spinning
  CHECK(e.cloud.count("GET /v2.1/cloud/thing/") < 10);
}

TEST_CASE("export appends only new events: running twice adds nothing") {
  Env e;
  const std::string path = temp_path("idempotent");
  const int64_t now = e.timers.unix_ms();
  add_events(e, 60, now - 1000);
  HistoryRequest req;
  req.device_id = PLUG;
  req.codes = {"switch_1", "cur_voltage"};
  req.out_path = path;
  auto r1 = run_export(e, req);
  REQUIRE(r1->ok());
  CHECK(r1->value().appended == 120);
  const std::string first = slurp(path);
  CHECK(lines(first) == 121);
  CHECK(first.rfind(HISTORY_CSV_HEADER, 0) == 0);

  auto r2 = run_export(e, req);
  REQUIRE(r2->ok());
  CHECK(r2->value().appended == 0);
  CHECK(slurp(path) == first);

  // New events later (one at the same millisecond as the newest row): only they are added.
  e.timers.advance(120000);
  const int64_t later = e.timers.unix_ms();
  e.cloud.add_log(PLUG, {"switch_1", "false", now - 1000});  // same ms as the last rows, new value
  e.cloud.add_log(PLUG, {"switch_1", "false", later - 500});
  auto r3 = run_export(e, req);
  REQUIRE(r3->ok());
  CHECK(r3->value().appended == 2);
  CHECK(lines(slurp(path)) == 123);
  std::remove(path.c_str());
}

TEST_CASE("export without codes asks the specification; bad files are refused") {
  Env e;
  const std::string path = temp_path("spec");
  const int64_t now = e.timers.unix_ms();
  add_events(e, 5, now - 1000);
  HistoryRequest req;
  req.device_id = PLUG;
  req.out_path = path;
  req.since_ms = now - 3600000;
  auto r = run_export(e, req);
  REQUIRE(r->ok());
  CHECK(r->value().appended == 10);
  CHECK(e.cloud.count("GET /v1.1/devices/") == 1);

  req.device_id = "bf0000000000000bulb1";  // same file, other device
  auto other = run_export(e, req);
  REQUIRE_FALSE(other->ok());
  CHECK(other->error().code == ERR_HISTORY_FILE);

  std::ofstream(path, std::ios::trunc) << "something else\n";
  req.device_id = PLUG;
  auto bad = run_export(e, req);
  CHECK(bad->error().code == ERR_HISTORY_FILE);
  std::remove(path.c_str());

  e.cloud.fail("GET /v2.1/", fakecloud::Failure{28841105, "not authorized", 0, false, false, 1});
  req.codes = {"switch_1"};
  auto denied = run_export(e, req);
  CHECK(denied->error().code == ERR_NOT_AUTHORIZED);
  std::remove(path.c_str());
}

}  // namespace t2m_history_test
