// The wizard's flow on fake time: owner discovery, the account's devices with keys, MACs and mappings,
// refresh and its change report.
#include "cloud/wizard.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdio>

#include "tests/cloud/cloud_test_util.h"
#include "tests/cloud/file_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_wizard_test {

using namespace t2m;
using namespace t2m::cloud;
using namespace t2m::cloud::testing;
using nlohmann::json;

namespace {

const char* const BULB = "bf0000000000000bulb1";
const char* const SENSOR = "bf0000000000000sens1";
const char* const GATEWAY = "bf00000000000000gw01";

}  // namespace

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

}  // namespace t2m_wizard_test
