#include "bench/fleet.h"

#include <algorithm>
#include <cstdio>

namespace t2m::bench {

namespace {

// The flat "dps":{...} object of a state payload as (id, raw value text) pairs, without a JSON parser
// (this runs for every message at tens of thousands a second).
void scan_dps(std::string_view payload, std::vector<std::pair<std::string_view, std::string_view>>& out) {
  out.clear();
  auto p = payload.find("\"dps\":{");
  if (p == std::string_view::npos) return;
  size_t i = p + 7;
  const size_t n = payload.size();
  while (i < n && payload[i] != '}') {
    if (payload[i] == ',' || payload[i] == ' ') {
      ++i;
      continue;
    }
    if (payload[i] != '"') return;
    size_t k0 = ++i;
    while (i < n && payload[i] != '"') ++i;
    std::string_view key = payload.substr(k0, i - k0);
    i += 2;  // '"' ':'
    size_t v0 = i;
    int depth = 0;
    bool in_str = false;
    for (; i < n; ++i) {
      char c = payload[i];
      if (in_str) {
        if (c == '\\')
          ++i;
        else if (c == '"')
          in_str = false;
        continue;
      }
      if (c == '"')
        in_str = true;
      else if (c == '{' || c == '[')
        ++depth;
      else if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0)
        break;
    }
    if (i > n) return;
    out.emplace_back(key, payload.substr(v0, i - v0));
  }
}

}  // namespace

std::optional<size_t> index_of_digits(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  return v;
}
std::string device_name(size_t i) {
  char b[32];
  snprintf(b, sizeof b, "d%05zu", i);
  return b;
}

void Fleet::reset(const std::string& base_topic, size_t count) {
  std::lock_guard<std::mutex> g(mu);
  base = base_topic;
  n = count;
  first_state_us.assign(n, 0);
  online.assign(n, 0);
  with_state = online_count = 0;
  last_first_state_us = last_online_us = 0;
  state_msgs = dp_changes = 0;
  last_state_us = 0;
  last_dps.assign(n, {});
  sw.assign(n, -1);
  refresh_on = false;
  fresh.assign(n, 0);
  fresh_count = 0;
  cmds.clear();
  pending.assign(n, -1);
  results_ok = results_error = 0;
}

void Fleet::on_message(const std::string& topic, const std::string& payload, int64_t t) {
  std::lock_guard<std::mutex> g(mu);
  if (topic.size() <= base.size() + 2 || topic.compare(0, base.size(), base) != 0 ||
      topic[base.size()] != '/' || topic[base.size() + 1] != 'd')
    return;
  std::string_view rest(topic);
  rest.remove_prefix(base.size() + 2);
  auto slash = rest.find('/');
  auto idx = index_of_digits(rest.substr(0, slash));
  if (!idx || *idx >= n) return;
  const size_t i = *idx;
  std::string_view suffix = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (suffix.empty()) {
    on_state_(i, payload, t);
  } else if (suffix == "/availability") {
    const bool on = payload.find("online") != std::string::npos;
    if (on && !online[i]) {
      online[i] = 1;
      ++online_count;
      last_online_us = t;
    } else if (!on && online[i]) {
      online[i] = 0;
      --online_count;
    }
  } else if (suffix == "/set/result") {
    if (payload.find("\"ok\"") != std::string::npos) {
      ++results_ok;
    } else {
      ++results_error;
      last_error = payload;
    }
  }
  cv.notify_all();
}

void Fleet::on_state_(size_t i, const std::string& payload, int64_t t) {
  ++state_msgs;
  last_state_us = t;
  if (!first_state_us[i]) {
    first_state_us[i] = t;
    ++with_state;
    last_first_state_us = t;
  }
  if (refresh_on && !fresh[i]) {
    fresh[i] = 1;
    ++fresh_count;
    last_fresh_us = t;
  }
  thread_local std::vector<std::pair<std::string_view, std::string_view>> dps;
  scan_dps(payload, dps);
  auto& prev = last_dps[i];
  for (const auto& [k, v] : dps) {
    auto it = std::find_if(prev.begin(), prev.end(), [&](const auto& e) { return e.first == k; });
    if (it == prev.end()) {
      prev.emplace_back(std::string(k), std::string(v));
      ++dp_changes;
    } else if (it->second != v) {
      it->second.assign(v);
      ++dp_changes;
    }
    if (k == "1") sw[i] = v == "true" ? 1 : v == "false" ? 0 : -1;
  }
  if (pending[i] >= 0) {
    Cmd& c = cmds[static_cast<size_t>(pending[i])];
    if (sw[i] == c.expect) {
      c.state_us = t;
      c.done = true;
      pending[i] = -1;
    }
  }
}

}  // namespace t2m::bench
