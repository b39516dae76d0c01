// FileStore and state_directory: where learned modes go, what a restart reads back, and that a broken or
// unwritable state never costs more than a warning.
#include "gateway/file_store.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "common/log.h"
#include "tests/support/mosquitto.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_file_store_test {

using namespace t2m;
using nlohmann::json;
using t2m::gw::FileStore;
using t2m::gw::state_directory;

namespace {

// Sets or clears an environment variable for one scope, restoring what was there.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~EnvVar() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Warnings logged while it lives.
struct Warnings {
  std::vector<std::string> lines;
  int id;
  Warnings()
      : id(log_add_sink([this](LogLevel l, std::string_view, std::string_view m) {
          if (l == LogLevel::WARN) lines.emplace_back(m);
        })) {}
  ~Warnings() { log_remove_sink(id); }
};

}  // namespace

TEST_CASE("state directory: the flag, then $STATE_DIRECTORY (its first entry), then the config's directory") {
  EnvVar none("STATE_DIRECTORY", nullptr);
  CHECK(state_directory("/etc/tuya2mqtt/config.json", "/srv/t2m") == "/srv/t2m");
  CHECK(state_directory("/etc/tuya2mqtt/config.json", "") == "/etc/tuya2mqtt");
  CHECK(state_directory("config.json", "") == ".");
  CHECK(state_directory("/config.json", "") == "/");
  {
    EnvVar sd("STATE_DIRECTORY", "/var/lib/tuya2mqtt:/var/lib/other");
    CHECK(state_directory("/etc/tuya2mqtt/config.json", "") == "/var/lib/tuya2mqtt");
    CHECK(state_directory("/etc/tuya2mqtt/config.json", "/srv/t2m") == "/srv/t2m");
  }
  {
    EnvVar empty("STATE_DIRECTORY", "");
    CHECK(state_directory("/etc/tuya2mqtt/config.json", "") == "/etc/tuya2mqtt");
  }
}

TEST_CASE("learned modes: written in the state directory, never next to the config, and read back") {
  test::TempDir etc("t2m-etc"), state("t2m-state");
  FileStore store(etc.file("config.json"), state.path());
  CHECK(store.learned_path() == state.file("learned.json"));
  CHECK(store.load_learned() == json::object());

  const json learned = {{"bf0000000000000001", {{"version", "3.4"}}}, {"bf02", {{"device22", true}}}};
  store.save_learned(learned);
  CHECK(json::parse(slurp(state.file("learned.json"))) == learned);
  CHECK_FALSE(exists(state.file("learned.json.tmp")));
  CHECK_FALSE(exists(etc.file("config.json.learned")));

  FileStore restarted(etc.file("config.json"), state.path());
  CHECK(restarted.load_learned() == learned);
}

TEST_CASE("learned modes: a release's file next to the config is read until the state directory has one") {
  test::TempDir etc("t2m-etc"), state("t2m-state");
  const json old = {{"bf01", {{"version", "3.3"}}}};
  write(etc.file("config.json.learned"), old.dump());
  FileStore store(etc.file("config.json"), state.path());
  CHECK(store.load_learned() == old);

  const json now = {{"bf01", {{"version", "3.5"}}}};
  store.save_learned(now);
  CHECK(store.load_learned() == now);  // the state directory wins once it has a file
}

TEST_CASE("learned modes: an unreadable file is ignored with a warning, never thrown") {
  test::TempDir etc("t2m-etc"), state("t2m-state");
  FileStore store(etc.file("config.json"), state.path());
  for (const char* bad : {"{not json", "[1,2,3]", "\"text\"", ""}) {
    CAPTURE(bad);
    write(state.file("learned.json"), bad);
    Warnings w;
    CHECK(store.load_learned() == json::object());
    CHECK(w.lines.size() == 1);
  }
  // Nested deeper than the JSON limit: refused by the bounded parser, not a stack overflow.
  write(state.file("learned.json"), std::string(100000, '[') + std::string(100000, ']'));
  CHECK(store.load_learned() == json::object());
}

TEST_CASE("learned modes: a state directory that cannot be written warns once and keeps running") {
  test::TempDir etc("t2m-etc");
  FileStore store(etc.file("config.json"), etc.file("no/such/dir"));
  Warnings w;
  store.save_learned({{"bf01", {{"version", "3.3"}}}});
  store.save_learned({{"bf01", {{"version", "3.4"}}}});
  REQUIRE(w.lines.size() == 1);
  CHECK(w.lines[0].find("--state-dir") != std::string::npos);
  CHECK(store.load_learned() == json::object());
}

}  // namespace t2m_file_store_test
