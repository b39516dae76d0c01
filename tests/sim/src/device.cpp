// What a simulated device does with a decoded message, per protocol version (docs/protocol.md §4-§8):
// queries (and the device22 quirks), writes answered with an ACK then a STATUS of what changed, UPDATEDPS,
// Zigbee sub-devices addressed by cid, sub-device online state; and the pushes it makes by itself (drift,
// curtain travel, countdowns). The DP values themselves are the DpModel's (model.cpp).
#include <algorithm>

#include "common/log.h"
#include "tests/sim/src/simulator_impl.h"

namespace t2m::sim {

namespace {

using nlohmann::json;
using proto::Command;

constexpr uint32_t RETCODE_ERROR = 1;
// Curtain position updates while the motor runs.
constexpr uint32_t MOTION_STEP_MS = 500;
constexpr const char* DEVICE22_ERROR = "json obj data unvalid";
constexpr const char* DEVID_NOT_FOUND = "devid not found";
constexpr const char* DATA_FORMAT_ERROR = "data format error";

int64_t unix_us_now() {
  uv_timeval64_t tv{};
  uv_gettimeofday(&tv);
  return tv.tv_sec * 1000000 + tv.tv_usec;
}

std::optional<std::string> cid_of(const json& j) {
  if (!j.is_object()) return std::nullopt;
  if (auto it = j.find("cid"); it != j.end() && it->is_string()) return it->get<std::string>();
  if (auto it = j.find("data"); it != j.end() && it->is_object()) {
    if (auto c = it->find("cid"); c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

int64_t Simulator::Impl::unix_s() const {
  return unix_us_now() / 1000000;
}

proto::Target Simulator::Impl::target(const Device& d, size_t node) const {
  proto::Target t{d.spec.id, std::nullopt};
  if (node > 0) t.cid = d.nodes[node].cid;
  return t;
}

// A STATUS with `dps` of node `node`, if a client is there to hear it.
void Simulator::Impl::push(Device& d, size_t node, const json& dps) {
  if (!d.conn || !d.conn->codec.ready() || d.silent) return;
  std::string body = proto::build_report(d.spec.version, target(d, node), unix_s(), dps);
  Bytes f = encode(d, cmd_u32(Command::STATUS), body, ++d.seq);
  if (f.empty()) return;
  d.c.pushes++;
  send(d, std::move(f));
}

void Simulator::Impl::arm_countdown(Device& d, size_t node, const json& changed) {
  Node& n = d.nodes[node];
  auto cd = n.model.countdown_armed(changed);
  if (!cd) return;
  n.countdown_gen++;
  if (*cd > 0)
    schedule(uint64_t{*cd} * 1000, d, EvKind::COUNTDOWN, n.countdown_gen, static_cast<uint16_t>(node));
}

// The node a request addresses: the device, or the sub-device named by `cid`. nullopt = unknown cid.
std::optional<size_t> Simulator::Impl::node_for(const Device& d,
                                                const std::optional<std::string>& cid) const {
  if (!cid || cid->empty()) return 0;
  for (size_t i = 1; i < d.nodes.size(); ++i) {
    if (d.nodes[i].cid == *cid) return i;
  }
  return std::nullopt;
}

void Simulator::Impl::reply_error(Device& d, uint32_t cmd, uint32_t req_seq, const char* text) {
  send(d, encode(d, cmd, text, reply_seq(d, req_seq), RETCODE_ERROR));
}

void Simulator::Impl::record_write(Device& d, size_t node, const json& dps) {
  d.c.writes++;
  WriteRecord w;
  w.seq = ++write_seq;
  w.device = d.spec.id;
  if (node > 0) w.cid = d.nodes[node].cid;
  w.dps = dps;
  w.unix_us = unix_us_now();
  if (config.writes_capacity > 0) {
    while (writes.size() >= config.writes_capacity) writes.pop_front();
    writes.push_back(w);
  }
  for (auto& [id, fn] : write_listeners) fn(w);
}

void Simulator::Impl::on_message(Device& d, const proto::Message& m) {
  const uint32_t cmd = m.cmd;
  const proto::Version v = d.spec.version;
  switch (static_cast<Command>(cmd)) {
    case Command::HEART_BEAT:
      d.c.heartbeats++;
      send(d, encode(d, cmd, "", reply_seq(d, m.seqno)));
      return;
    case Command::DP_QUERY:
    case Command::DP_QUERY_NEW: {
      if (d.spec.device22 && cmd == cmd_u32(Command::DP_QUERY)) {
        reply_error(d, cmd, m.seqno, DEVICE22_ERROR);
        return;
      }
      json req = json::parse(m.payload, nullptr, false);
      auto node = node_for(d, cid_of(req));
      if (!node) {
        reply_error(d, cmd, m.seqno, DEVID_NOT_FOUND);
        return;
      }
      d.c.queries++;
      std::string body = proto::build_report(v, target(d, *node), unix_s(), d.nodes[*node].model.dps());
      send(d, encode(d, cmd, body, reply_seq(d, m.seqno)));
      return;
    }
    case Command::CONTROL:
    case Command::CONTROL_NEW: {
      auto req = proto::parse_control(m.payload);
      if (!req) {
        reply_error(d, cmd, m.seqno, DATA_FORMAT_ERROR);
        return;
      }
      auto node = node_for(d, req->cid);
      bool foreign = !req->cid && req->dev_id && !req->dev_id->empty() && *req->dev_id != d.spec.id;
      if (!node || foreign) {
        reply_error(d, cmd, m.seqno, DEVID_NOT_FOUND);
        return;
      }
      Node& n = d.nodes[*node];
      bool all_null = !req->dps.empty();
      std::vector<std::string> ids;
      for (const auto& [k, val] : req->dps.items()) {
        all_null = all_null && val.is_null();
        ids.push_back(k);
      }
      if (all_null) {
        // device22 query (CONTROL_NEW with null DPs, §4.5) or tuyapi's CONTROL fallback: answer the DPs.
        d.c.queries++;
        std::string body = proto::build_report(v, target(d, *node), unix_s(), n.model.subset(ids));
        send(d, encode(d, cmd, body, reply_seq(d, m.seqno)));
        return;
      }
      record_write(d, *node, req->dps);
      if (!d.conn) return;  // the write hook may have injected a fault
      json accepted = n.model.apply_write(req->dps);
      send(d, encode(d, cmd, "", reply_seq(d, m.seqno)));
      if (!accepted.empty()) push(d, *node, accepted);
      if (n.model.moving()) {
        n.motion_gen++;
        schedule(MOTION_STEP_MS, d, EvKind::MOTION, n.motion_gen, static_cast<uint16_t>(*node));
      }
      arm_countdown(d, *node, accepted);
      return;
    }
    case Command::UPDATEDPS: {
      auto ids = proto::parse_updatedps(m.payload);
      send(d, encode(d, cmd, "", reply_seq(d, m.seqno)));
      if (!ids) return;
      json fresh = d.nodes[0].model.resample(*ids);
      if (!fresh.empty()) push(d, 0, fresh);
      return;
    }
    case Command::LAN_EXT_STREAM: {
      json req = json::parse(m.payload, nullptr, false);
      if (!req.is_object() || req.value("reqType", "") != "subdev_online_stat_query") return;
      json online = json::array();
      for (size_t i = 1; i < d.nodes.size(); ++i) online.push_back(d.nodes[i].cid);
      json body{{"reqType", "subdev_online_stat_report"},
                {"data", {{"online", online}, {"offline", json::array()}, {"nearby", json::array()}}}};
      send(d, encode(d, cmd, body.dump(), reply_seq(d, m.seqno)));
      return;
    }
    default:
      T2M_LOGD(TAG, "%s: ignoring cmd 0x%02x", d.spec.id.c_str(), cmd);
      return;
  }
}

// --- spontaneous changes ---------------------------------------------------------------------------------

void Simulator::Impl::on_drift(Device& d, const Event& e) {
  if (e.gen != d.drift_gen || d.spec.push_interval_ms == 0) return;
  if (!d.rebooting) {
    for (size_t i = 0; i < d.nodes.size(); ++i) {
      json changed = d.nodes[i].model.drift();
      if (!changed.empty()) push(d, i, changed);
    }
  }
  schedule(d.spec.push_interval_ms, d, EvKind::DRIFT, d.drift_gen);
}

void Simulator::Impl::on_motion_step(Device& d, const Event& e) {
  if (e.node >= d.nodes.size()) return;
  Node& n = d.nodes[e.node];
  if (e.gen != n.motion_gen || !n.model.moving()) return;
  int step =
      d.spec.travel_ms == 0 ? 100 : std::max(1, static_cast<int>(100ULL * MOTION_STEP_MS / d.spec.travel_ms));
  json changed = n.model.step_motion(step);
  if (!changed.empty()) push(d, e.node, changed);
  if (n.model.moving()) schedule(MOTION_STEP_MS, d, EvKind::MOTION, n.motion_gen, e.node);
}

void Simulator::Impl::on_countdown_end(Device& d, const Event& e) {
  if (e.node >= d.nodes.size()) return;
  Node& n = d.nodes[e.node];
  if (e.gen != n.countdown_gen) return;
  json changed = n.model.countdown_expired();
  if (!changed.empty()) push(d, e.node, changed);
}

}  // namespace t2m::sim
