// Faults: the control channel's fault requests (parse_fault) and what injecting one does to a device and
// its connection (close, silence, delay, garbage, corrupt and oversize frames, a new key, a reboot, a
// report for another device), and their end.
#include "common/log.h"
#include "tests/sim/src/simulator_impl.h"

namespace t2m::sim {

namespace {

using nlohmann::json;
using proto::Command;

// A header declaring 1 MiB: far over any bound a client should accept (docs/protocol.md §2.3).
constexpr uint32_t OVERSIZE_LENGTH = 1024 * 1024;
constexpr size_t OVERSIZE_TAIL = 256;
constexpr const char* DEFAULT_FOREIGN_ID = "bf00000000000foreign";

}  // namespace

std::optional<FaultKind> parse_fault_kind(std::string_view n) {
  if (n == "close") return FaultKind::CLOSE;
  if (n == "silence") return FaultKind::SILENCE;
  if (n == "delay") return FaultKind::DELAY;
  if (n == "garbage") return FaultKind::GARBAGE;
  if (n == "corrupt") return FaultKind::CORRUPT;
  if (n == "oversize") return FaultKind::OVERSIZE;
  if (n == "change_key") return FaultKind::CHANGE_KEY;
  if (n == "reboot") return FaultKind::REBOOT;
  if (n == "foreign") return FaultKind::FOREIGN;
  if (n == "clear") return FaultKind::CLEAR;
  return std::nullopt;
}

std::string_view to_string(FaultKind k) {
  switch (k) {
    case FaultKind::CLOSE:
      return "close";
    case FaultKind::SILENCE:
      return "silence";
    case FaultKind::DELAY:
      return "delay";
    case FaultKind::GARBAGE:
      return "garbage";
    case FaultKind::CORRUPT:
      return "corrupt";
    case FaultKind::OVERSIZE:
      return "oversize";
    case FaultKind::CHANGE_KEY:
      return "change_key";
    case FaultKind::REBOOT:
      return "reboot";
    case FaultKind::FOREIGN:
      return "foreign";
    case FaultKind::CLEAR:
      return "clear";
  }
  return "?";
}

Result<Fault> parse_fault(const json& j) {
  if (!j.is_object()) return fail("bad_request", "a fault must be an object");
  auto name = j.find("fault");
  if (name == j.end() || !name->is_string()) return fail("bad_request", "'fault' (string) is required");
  auto kind = parse_fault_kind(name->get<std::string>());
  if (!kind) {
    return fail("bad_request",
                "unknown fault '" + name->get<std::string>() +
                    "' (close, silence, delay, garbage, corrupt, oversize, change_key, reboot, "
                    "foreign, clear)");
  }
  Fault f;
  f.kind = *kind;
  // The value is read once, through a reference: with parse_fault in a file of its own, GCC inlines
  // differently and its -Wnull-dereference saw a null inside nlohmann in a second it->get() (a false
  // positive).
  auto u32 = [&](const char* k, uint32_t& out) -> Status {
    auto it = j.find(k);
    if (it == j.end()) return {};
    const json& v = *it;
    const int64_t n = v.is_number_integer() ? v.get<int64_t>() : -1;
    if (n < 0 || n > UINT32_MAX) {
      return fail("bad_request", std::string("'") + k + "' must be a non-negative integer");
    }
    out = static_cast<uint32_t>(n);
    return {};
  };
  if (auto s = u32("ms", f.ms); !s) return fail(s.error());
  if (auto s = u32("duration_ms", f.duration_ms); !s) return fail(s.error());
  uint32_t bytes = 0;
  if (auto s = u32("bytes", bytes); !s) return fail(s.error());
  f.bytes = bytes;
  if (f.kind == FaultKind::REBOOT && !j.contains("ms")) f.ms = DEFAULT_REBOOT_MS;
  if (f.kind == FaultKind::GARBAGE && f.bytes == 0) f.bytes = DEFAULT_GARBAGE_BYTES;
  if (j.contains("key")) {
    if (!j["key"].is_string() || j["key"].get<std::string>().size() != LOCAL_KEY_SIZE) {
      return fail("bad_request", "'key' must be a 16-character string");
    }
    f.key = j["key"].get<std::string>();
  }
  if (j.contains("other_id")) {
    if (!j["other_id"].is_string()) return fail("bad_request", "'other_id' must be a string");
    f.other_id = j["other_id"].get<std::string>();
  }
  f.keep_connection = j.value("keep_connection", false);
  f.reset = j.value("reset", false);
  return f;
}

// ---------------------------------------------------------------------------------------------------------

Status Simulator::Impl::inject(Device& d, const Fault& f) {
  T2M_LOGI(TAG, "%s: fault %s", d.spec.id.c_str(), std::string(to_string(f.kind)).c_str());
  auto need_conn = [&]() -> Status {
    if (!d.conn) return fail("not_connected", d.spec.id + " has no client connected");
    return {};
  };
  switch (f.kind) {
    case FaultKind::CLOSE:
      if (auto st = need_conn(); !st) return st;
      close_conn(d, f.reset);
      return {};
    case FaultKind::SILENCE:
      d.silent = true;
      d.fault_gen++;
      if (f.ms > 0) schedule(f.ms, d, EvKind::FAULT_END, d.fault_gen);
      return {};
    case FaultKind::DELAY:
      d.delay_ms = f.ms;
      d.fault_gen++;
      if (f.duration_ms > 0) schedule(f.duration_ms, d, EvKind::FAULT_END, d.fault_gen);
      return {};
    case FaultKind::CLEAR:
      d.silent = false;
      d.delay_ms = 0;
      d.fault_gen++;
      return {};
    case FaultKind::GARBAGE: {
      if (auto st = need_conn(); !st) return st;
      Bytes junk = random_bytes(f.bytes);
      // No byte pair 00 00 may start a prefix: clear zero bytes.
      for (auto& b : junk) b = static_cast<uint8_t>(b | 0x80);
      send(d, std::move(junk));
      return {};
    }
    case FaultKind::CORRUPT: {
      if (auto st = need_conn(); !st) return st;
      if (!d.conn->codec.ready()) return fail("not_ready", "the session key is not negotiated yet");
      std::string body = proto::build_report(d.spec.version, target(d, 0), unix_s(), d.nodes[0].model.dps());
      Bytes fr = encode(d, cmd_u32(Command::STATUS), body, ++d.seq);
      if (fr.size() < 2 * proto::SUFFIX_SIZE) return fail("encode", "cannot build a frame");
      fr[fr.size() - proto::SUFFIX_SIZE - 1] ^= 0x5A;  // inside the CRC / HMAC / tag
      send(d, std::move(fr));
      return {};
    }
    case FaultKind::OVERSIZE: {
      if (auto st = need_conn(); !st) return st;
      bool v35 = proto::uses_6699(d.spec.version);
      Bytes fr;
      auto put32 = [&](uint32_t x) {
        for (int s = 24; s >= 0; s -= 8) fr.push_back(static_cast<uint8_t>(x >> s));
      };
      put32(v35 ? proto::PREFIX_6699 : proto::PREFIX_55AA);
      if (v35) fr.insert(fr.end(), {0, 0});
      put32(++d.seq);
      put32(cmd_u32(Command::STATUS));
      put32(OVERSIZE_LENGTH);
      Bytes tail = random_bytes(OVERSIZE_TAIL);
      for (auto& b : tail) b = static_cast<uint8_t>(b | 0x80);
      fr.insert(fr.end(), tail.begin(), tail.end());
      send(d, std::move(fr));
      return {};
    }
    case FaultKind::CHANGE_KEY: {
      std::string key = f.key;
      if (key.empty()) {
        static constexpr char ALPHABET[] = "abcdefghijklmnopqrstuvwxyz0123456789{}^`";
        for (size_t i = 0; i < LOCAL_KEY_SIZE; ++i) key.push_back(ALPHABET[rng() % (sizeof ALPHABET - 1)]);
      }
      log_register_secret(key);
      d.key = key;
      if (d.conn) {
        if (f.keep_connection) {
          d.conn->codec =
              proto::MessageCodec(proto::Role::DEVICE, d.spec.version, to_bytes(d.key), d.spec.device22);
        } else {
          close_conn(d, false);
        }
      }
      return {};
    }
    case FaultKind::REBOOT:
      close_conn(d, true);
      d.listener.close();
      d.rebooting = true;
      d.silent = false;
      d.delay_ms = 0;
      d.fault_gen++;
      d.reboot_gen++;
      for (auto& n : d.nodes) {
        n.model.reset();
        n.motion_gen++;
        n.countdown_gen++;
      }
      schedule(f.ms, d, EvKind::REBOOT_END, d.reboot_gen);
      return {};
    case FaultKind::FOREIGN: {
      if (auto st = need_conn(); !st) return st;
      if (!d.conn->codec.ready()) return fail("not_ready", "the session key is not negotiated yet");
      proto::Target t{f.other_id.empty() ? DEFAULT_FOREIGN_ID : f.other_id, std::nullopt};
      std::string body = proto::build_report(d.spec.version, t, unix_s(), d.nodes[0].model.dps());
      send(d, encode(d, cmd_u32(Command::STATUS), body, ++d.seq));
      return {};
    }
  }
  return {};
}

void Simulator::Impl::on_fault_end(Device& d, const Event& e) {
  if (e.gen != d.fault_gen) return;
  d.silent = false;
  d.delay_ms = 0;
}

void Simulator::Impl::on_reboot_end(Device& d, const Event& e) {
  if (e.gen != d.reboot_gen || !d.rebooting) return;
  d.rebooting = false;
  if (auto st = listen(d); !st)
    T2M_LOGE(TAG, "%s: cannot listen after reboot: %s", d.spec.id.c_str(), st.error().message.c_str());
  T2M_LOGI(TAG, "%s: back after reboot", d.spec.id.c_str());
}

}  // namespace t2m::sim
