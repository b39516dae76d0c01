#include "model/device_model.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_device_model_test {

using t2m::model::DeviceModel;
using t2m::model::ModelCache;

namespace {

t2m::config::DeviceConfig device(const std::string& id, const std::string& category) {
  t2m::config::DeviceConfig d;
  d.id = id;
  d.name = id;
  d.category = category;
  return d;
}

}  // namespace

TEST_CASE("devices of one product share one model; different products do not") {
  ModelCache cache;
  auto a = DeviceModel::build(device("plug-a", "cz"), nullptr, &cache);
  auto b = DeviceModel::build(device("plug-b", "cz"), nullptr, &cache);
  auto light = DeviceModel::build(device("bulb", "dj"), nullptr, &cache);
  CHECK(a.shares_with(b));
  CHECK_FALSE(a.shares_with(light));
  CHECK(cache.size() == 2);
  // Without a cache every device gets its own copy (the CLI's one-off models).
  auto c = DeviceModel::build(device("plug-c", "cz"));
  CHECK_FALSE(c.shares_with(a));
  CHECK(c.model() == a.model());
}

TEST_CASE("a per-device override gives that device a model of its own") {
  ModelCache cache;
  auto plain = DeviceModel::build(device("plug-a", "cz"), nullptr, &cache);
  auto cfg = device("plug-b", "cz");
  t2m::config::DpOverride o;
  o.code = "relay";
  cfg.dps[1] = o;
  auto renamed = DeviceModel::build(cfg, nullptr, &cache);
  CHECK_FALSE(plain.shares_with(renamed));
  REQUIRE(renamed.model().find_dp(1) != nullptr);
  CHECK(renamed.model().find_dp(1)->code == "relay");
  CHECK(plain.model().find_dp(1)->code != "relay");
}

TEST_CASE("refining one device leaves the model shared by the others untouched") {
  ModelCache cache;
  auto a = DeviceModel::build(device("plug-a", "cz"), nullptr, &cache);
  auto b = DeviceModel::build(device("plug-b", "cz"), nullptr, &cache);
  REQUIRE(a.shares_with(b));
  const size_t dps_before = b.model().dps.size();
  // DP 142 is in no plug template: a report naming it re-derives a's model.
  nlohmann::json reported{{"1", true}, {"142", 7}};
  CHECK(a.refine(device("plug-a", "cz"), reported, &cache));
  CHECK_FALSE(a.shares_with(b));
  CHECK(b.model().dps.size() == dps_before);
  REQUIRE(a.model().find_dp(142) != nullptr);
  CHECK(b.model().find_dp(142) == nullptr);
  // A second device reporting the same unknown DP joins a's refined model.
  CHECK(b.refine(device("plug-b", "cz"), reported, &cache));
  CHECK(a.shares_with(b));
}

TEST_CASE("models no device uses any more are not kept alive by the cache") {
  ModelCache cache;
  {
    auto a = DeviceModel::build(device("bulb", "dj"), nullptr, &cache);
    CHECK(cache.size() == 1);
  }
  CHECK(cache.size() == 0);
  auto again = DeviceModel::build(device("bulb", "dj"), nullptr, &cache);
  CHECK(cache.size() == 1);
}

}  // namespace t2m_device_model_test
