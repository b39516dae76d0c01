// The public facade over Simulator::Impl, the simulator's lifetime and its one event queue: every timed
// thing (idle checks, drift, curtain travel, countdowns, delayed replies, fault and reboot ends,
// announcements) is an Event on one priority queue behind one uv timer, which keeps a device cheap
// (no timer or thread of its own). What each event does lives with its concern (simulator_impl.h).
#include "tests/sim/src/simulator.h"

#include <algorithm>

#include "common/log.h"
#include "tests/sim/src/simulator_impl.h"

namespace t2m::sim {

using nlohmann::json;

void Counters::add(const Counters& o) {
  frames_in += o.frames_in;
  frames_out += o.frames_out;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  writes += o.writes;
  pushes += o.pushes;
  queries += o.queries;
  heartbeats += o.heartbeats;
  accepted += o.accepted;
  refused += o.refused;
  handshakes += o.handshakes;
  handshake_failures += o.handshake_failures;
  decode_errors += o.decode_errors;
  idle_closes += o.idle_closes;
  faults += o.faults;
}

json Counters::to_json() const {
  return json{{"frames_in", frames_in},
              {"frames_out", frames_out},
              {"bytes_in", bytes_in},
              {"bytes_out", bytes_out},
              {"writes", writes},
              {"pushes", pushes},
              {"queries", queries},
              {"heartbeats", heartbeats},
              {"accepted", accepted},
              {"refused", refused},
              {"handshakes", handshakes},
              {"handshake_failures", handshake_failures},
              {"decode_errors", decode_errors},
              {"idle_closes", idle_closes},
              {"faults", faults}};
}

// ---------------------------------------------------------------------------------------------------------

Simulator::Impl::Impl(uv_loop_t* l, SimConfig c) : loop(l), config(std::move(c)) {
  uint64_t seed = 1;
  for (auto& spec : config.devices) {
    auto d = std::make_unique<Device>();
    d->sim = this;
    d->index = static_cast<uint32_t>(devices.size());
    d->key = spec.key;
    log_register_secret(spec.key);
    d->nodes.push_back(Node{"", DpModel(spec.profile, spec.dps, seed++), 0, 0});
    for (const auto& s : spec.sub_devices)
      d->nodes.push_back(Node{s.cid, DpModel(s.profile, s.dps, seed++), 0, 0});
    by_id.emplace(spec.id, d->index);
    d->spec = std::move(spec);
    devices.push_back(std::move(d));
  }
  config.devices.clear();  // each Device owns its spec now; one copy per device is enough at 5,000
}

Device* Simulator::Impl::find(std::string_view id) const {
  auto it = by_id.find(std::string(id));
  return it == by_id.end() ? nullptr : devices[it->second].get();
}

Bytes Simulator::Impl::random_bytes(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t r = rng();
    for (size_t k = 0; k < 8 && i + k < n; ++k) b[i + k] = static_cast<uint8_t>(r >> (8 * k));
  }
  return b;
}

Status Simulator::Impl::start() {
  if (running) return {};
  running = true;
  int rc = timer.init([&](uv_timer_t* t) { return uv_timer_init(loop, t); });
  if (rc != 0) {
    stop();
    return fail("start", uv_strerror(rc));
  }
  timer.get()->data = this;
  for (auto& d : devices) {
    if (auto st = listen(*d); !st) {
      stop();
      return st;
    }
    if (d->spec.push_interval_ms > 0) {
      schedule(d->spec.push_interval_ms / 2 + d->index % std::max<uint32_t>(1, d->spec.push_interval_ms), *d,
               EvKind::DRIFT, d->drift_gen);
    }
  }
  if (auto st = start_udp(); !st) {
    stop();
    return st;
  }
  T2M_LOGI(TAG, "%zu simulated devices listening", devices.size());
  return {};
}

void Simulator::Impl::stop() {
  if (!running) return;
  running = false;
  for (auto& d : devices) {
    close_conn(*d, false);
    d->listener.close();
  }
  timer.close();
  bcast.close();
  disc.close();
  armed_due = UINT64_MAX;
  events = {};
}

// --- event queue -----------------------------------------------------------------------------------------

void Simulator::Impl::schedule(uint64_t delay_ms, const Device& d, EvKind kind, uint32_t gen, uint16_t node) {
  events.push(Event{now() + delay_ms, d.index, gen, node, kind});
  arm();
}

void Simulator::Impl::arm() {
  if (!timer.open() || events.empty()) return;
  uint64_t due = events.top().due;
  if (due >= armed_due) return;
  armed_due = due;
  uint64_t n = now();
  uv_timer_start(timer.get(), &Impl::on_timer, due > n ? due - n : 0, 0);
}

void Simulator::Impl::on_timer(uv_timer_t* t) {
  auto* self = static_cast<Impl*>(t->data);
  if (!self) return;
  self->armed_due = UINT64_MAX;
  uint64_t n = self->now();
  while (!self->events.empty() && self->events.top().due <= n) {
    Event e = self->events.top();
    self->events.pop();
    self->fire(e);
    if (!self->running) return;
  }
  self->arm();
}

void Simulator::Impl::fire(const Event& e) {
  Device& d = *devices[e.dev];
  switch (e.kind) {
    case EvKind::IDLE:
      on_idle_check(d, e);
      return;
    case EvKind::DRIFT:
      on_drift(d, e);
      return;
    case EvKind::MOTION:
      on_motion_step(d, e);
      return;
    case EvKind::COUNTDOWN:
      on_countdown_end(d, e);
      return;
    case EvKind::DELAYED:
      on_delayed_due(d, e);
      return;
    case EvKind::FAULT_END:
      on_fault_end(d, e);
      return;
    case EvKind::REBOOT_END:
      on_reboot_end(d, e);
      return;
    case EvKind::BROADCAST:
      on_broadcast_due(d);
      return;
  }
}

// ---------------------------------------------------------------------------------------------------------

Simulator::Simulator(uv_loop_t* loop, SimConfig config)
    : impl_(std::make_unique<Impl>(loop, std::move(config))) {}
Simulator::~Simulator() {
  impl_->stop();
}

Status Simulator::start() {
  return impl_->start();
}
void Simulator::stop() {
  impl_->stop();
}
bool Simulator::running() const {
  return impl_->running;
}
size_t Simulator::device_count() const {
  return impl_->devices.size();
}

std::vector<std::string> Simulator::device_ids() const {
  std::vector<std::string> ids;
  ids.reserve(impl_->devices.size());
  for (const auto& d : impl_->devices) ids.push_back(d->spec.id);
  return ids;
}

const DeviceSpec* Simulator::spec(std::string_view id) const {
  Device* d = impl_->find(id);
  return d ? &d->spec : nullptr;
}

uint16_t Simulator::port_of(std::string_view id) const {
  Device* d = impl_->find(id);
  return d ? d->bound_port : 0;
}

std::optional<Endpoint> Simulator::discovery_endpoint() const {
  return impl_->disc_bound;
}

bool Simulator::connected(std::string_view id) const {
  Device* d = impl_->find(id);
  return d && d->conn != nullptr;
}

std::optional<std::string> Simulator::current_key(std::string_view id) const {
  Device* d = impl_->find(id);
  if (!d) return std::nullopt;
  return d->key;
}

Result<json> Simulator::state(std::string_view id, const std::optional<std::string>& cid) const {
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  auto node = impl_->node_for(*d, cid);
  if (!node) return fail("unknown_cid", "device '" + std::string(id) + "' has no sub-device '" + *cid + "'");
  return d->nodes[*node].model.dps();
}

Status Simulator::set_dps(std::string_view id, const std::optional<std::string>& cid, const json& dps) {
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  if (!dps.is_object()) return fail("bad_request", "'dps' must be an object");
  auto node = impl_->node_for(*d, cid);
  if (!node) return fail("unknown_cid", "device '" + std::string(id) + "' has no sub-device '" + *cid + "'");
  json changed = d->nodes[*node].model.force(dps);
  if (!changed.empty()) impl_->push(*d, *node, changed);
  impl_->arm_countdown(*d, *node, changed);
  return {};
}

Status Simulator::inject(std::string_view id, const Fault& f) {
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  if (!impl_->running) return fail("not_running", "the simulator is stopped");
  auto st = impl_->inject(*d, f);
  if (st) d->c.faults++;
  return st;
}

Status Simulator::set_push_interval(std::string_view id, uint32_t ms) {
  auto apply = [&](Device& d) {
    d.spec.push_interval_ms = ms;
    d.drift_gen++;
    if (ms > 0 && impl_->running) {
      impl_->schedule(ms / 2 + d.index % ms, d, EvKind::DRIFT, d.drift_gen);
    }
  };
  if (id.empty()) {
    for (auto& d : impl_->devices) apply(*d);
    return {};
  }
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  apply(*d);
  return {};
}

Counters Simulator::totals() const {
  Counters t;
  for (const auto& d : impl_->devices) t.add(d->c);
  return t;
}

Result<Counters> Simulator::counters(std::string_view id) const {
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  return d->c;
}

const std::deque<WriteRecord>& Simulator::writes() const {
  return impl_->writes;
}
void Simulator::clear_writes() {
  impl_->writes.clear();
}
int Simulator::add_write_listener(std::function<void(const WriteRecord&)> fn) {
  int id = impl_->next_listener++;
  impl_->write_listeners.emplace_back(id, std::move(fn));
  return id;
}

void Simulator::remove_write_listener(int id) {
  std::erase_if(impl_->write_listeners, [id](const auto& l) { return l.first == id; });
}

}  // namespace t2m::sim
