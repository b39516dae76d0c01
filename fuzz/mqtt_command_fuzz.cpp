// MQTT commands as the gateway receives them: topic (mqtt/topics.h) and payload (mqtt/payload.h), then
// model::command_to_dps on a few device models (plug, RGB+CCT bulb, curtain, thermostat, sub-device
// switch). Input: "<topic>\n<payload>". Properties: no crash/UB/leak/exception; every refused command
// has an error code; a converted command only writes DPs the model knows; responses always serialise.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "fuzz/fuzz_check.h"
#include "model/convert.h"
#include "model/derived_model.h"
#include "mqtt/payload.h"
#include "mqtt/topics.h"

using namespace t2m;
using nlohmann::json;

namespace {

config::DeviceConfig device(const char* category) {
  config::DeviceConfig d;
  d.id = "bffuzz0000000000000" + std::string(category);
  d.local_key = "0123456789abcdef";
  d.category = category;
  return d;
}

struct Models {
  std::vector<model::DerivedModel> models;
  std::vector<json> current;
  Models() {
    for (const char* cat : {"cz", "dj", "cl", "wk", "kg", "fs"}) {
      models.push_back(model::derive_model(device(cat)));
      current.push_back(nullptr);
    }
    // The bulb again with a reported state (colour format detection, colour-mode brightness).
    const json bulb = json::parse(R"({"20":true,"21":"colour","22":500,"23":300,"24":"00f003e803e8"})");
    models.push_back(model::derive_model(device("dj"), bulb));
    current.push_back(bulb);
  }
};

const Models& models() {
  static const Models m;
  return m;
}

void check_converted(const model::DerivedModel& model, const Result<json>& r) {
  if (!r.ok()) {
    T2M_FUZZ_CHECK(!r.error().code.empty());
    (void)mqtt::make_error_response(r.error().message, 1);
    return;
  }
  T2M_FUZZ_CHECK(r->is_object());
  (void)mqtt::dump_json(*r);
  (void)model;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t nl = text.find('\n');
  const std::string_view topic = text.substr(0, nl);
  const std::string_view payload = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);

  (void)mqtt::validate_friendly_name(topic);
  (void)mqtt::validate_base_topic(topic);
  (void)mqtt::is_reserved_word(topic);

  const mqtt::Topics topics;
  auto parsed = topics.parse(topic);
  const mqtt::Topics nested("home/tuya");
  (void)nested.parse(topic);

  // A valid name round-trips through the topics built for it.
  if (mqtt::validate_friendly_name(payload.substr(0, 200)).ok()) {
    const std::string name(payload.substr(0, 200));
    auto back = topics.parse(topics.set(name));
    T2M_FUZZ_CHECK(back.ok());
    T2M_FUZZ_CHECK(back->kind == mqtt::TopicKind::SET && back->name == name);
    auto attr = topics.parse(topics.set_attr(name, "switch_1"));
    T2M_FUZZ_CHECK(attr.ok() && attr->kind == mqtt::TopicKind::SET_ATTR && attr->name == name);
  }

  auto set = mqtt::parse_set_payload(payload);
  auto bare = mqtt::parse_bare_value(payload);
  auto get = mqtt::parse_get_payload(payload);
  auto req = mqtt::parse_bridge_request(payload);
  if (!set.ok()) T2M_FUZZ_CHECK(!set.error().code.empty());
  if (!bare.ok()) T2M_FUZZ_CHECK(!bare.error().code.empty());
  if (!get.ok()) T2M_FUZZ_CHECK(!get.error().code.empty());
  if (req.ok()) {
    (void)mqtt::make_response(req->data, req->transaction);
    (void)mqtt::make_error_response("x", req->transaction);
  }
  if (payload.size() > mqtt::MAX_REQUEST_PAYLOAD_BYTES) T2M_FUZZ_CHECK(!req.ok());
  if (payload.size() > mqtt::MAX_COMMAND_PAYLOAD_BYTES) T2M_FUZZ_CHECK(!set.ok());

  // The raw payload as a state value: non-UTF-8 text reaches the value converters as it is and they must
  // refuse it, never throw.
  const json as_state = {{"state", std::string(payload)}};
  const auto& m = models();
  for (size_t i = 0; i < m.models.size(); ++i) {
    const auto& model = m.models[i];
    if (set.ok()) check_converted(model, model::command_to_dps(model, *set, m.current[i]));
    check_converted(model, model::command_to_dps(model, as_state, m.current[i]));
    if (bare.ok()) {
      const std::string attr = parsed.ok() && !parsed->attribute.empty() ? parsed->attribute : "switch_1";
      check_converted(model, model::command_to_dps(model, attr, *bare, m.current[i]));
      check_converted(model, model::command_to_dps(model, "state", *bare, m.current[i]));
    }
  }
  return 0;
}
