// The device list: tinytuya-compatible entries, the merge of a refresh, and private atomic files.
#include "cloud/device_list.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "tests/cloud/file_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_device_list_test {

using namespace t2m;
using namespace t2m::cloud;
using namespace t2m::cloud::testing;
using nlohmann::json;

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

TEST_CASE("hand-edited files: a missing or mistyped string field reads as empty") {
  const json j = {{"name", "Lamp"}, {"ip", 5}};
  CHECK(json_string(j, "name") == "Lamp");
  CHECK(json_string(j, "ip").empty());
  CHECK(json_string(j, "absent").empty());
  CHECK(json_string(json::array({"name"}), "name").empty());
}

}  // namespace t2m_device_list_test
