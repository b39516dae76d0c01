#include "common/log.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace t2m {
namespace {

constexpr size_t MIN_SECRET_LENGTH = 4;
constexpr size_t FORMAT_STACK_BUFFER = 512;

struct LogState {
  std::mutex mu;
  std::vector<std::pair<int, LogSink>> sinks;
  std::vector<std::string> secrets;
  int next_id = 1;
  bool stderr_enabled = true;
};

LogState& state() {
  static LogState s;
  return s;
}

std::atomic<int> g_level{static_cast<int>(LogLevel::INFO)};

// journald understands "<N>" priority prefixes on stderr lines.
int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::ERROR:
      return 3;
    case LogLevel::WARN:
      return 4;
    case LogLevel::INFO:
      return 6;
    case LogLevel::DEBUG:
    case LogLevel::VERBOSE:
      return 7;
  }
  return 6;
}

std::string scrub_locked(const LogState& s, std::string_view text) {
  std::string out(text);
  for (const auto& secret : s.secrets) {
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      std::string mark = redact(secret);
      out.replace(pos, secret.size(), mark);
      pos += mark.size();
    }
  }
  return out;
}

}  // namespace

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::ERROR:
      return "error";
    case LogLevel::WARN:
      return "warning";
    case LogLevel::INFO:
      return "info";
    case LogLevel::DEBUG:
      return "debug";
    case LogLevel::VERBOSE:
      return "verbose";
  }
  return "info";
}

bool parse_log_level(std::string_view text, LogLevel& out) {
  if (text == "error")
    out = LogLevel::ERROR;
  else if (text == "warning" || text == "warn")
    out = LogLevel::WARN;
  else if (text == "info")
    out = LogLevel::INFO;
  else if (text == "debug")
    out = LogLevel::DEBUG;
  else if (text == "verbose" || text == "trace")
    out = LogLevel::VERBOSE;
  else
    return false;
  return true;
}

void log_set_level(LogLevel level) {
  g_level.store(static_cast<int>(level));
}
LogLevel log_level() {
  return static_cast<LogLevel>(g_level.load());
}

int log_add_sink(LogSink sink) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  int id = s.next_id++;
  s.sinks.emplace_back(id, std::move(sink));
  return id;
}

void log_remove_sink(int id) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  std::erase_if(s.sinks, [id](const auto& p) { return p.first == id; });
}

void log_set_stderr(bool enabled) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  s.stderr_enabled = enabled;
}

void log_register_secret(std::string_view secret) {
  if (secret.size() < MIN_SECRET_LENGTH) return;
  auto& s = state();
  std::lock_guard lock(s.mu);
  for (const auto& known : s.secrets)
    if (known == secret) return;
  s.secrets.emplace_back(secret);
}

void log_clear_secrets() {
  auto& s = state();
  std::lock_guard lock(s.mu);
  s.secrets.clear();
}

std::string log_scrub(std::string_view text) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  return scrub_locked(s, text);
}

std::string vstrformat(const char* fmt, va_list ap) {
  char buf[FORMAT_STACK_BUFFER];
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(buf, sizeof buf, fmt, copy);
  va_end(copy);
  if (n < 0) return {};
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(out.data(), out.size(), fmt, ap);
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string strformat(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string out = vstrformat(fmt, ap);
  va_end(ap);
  return out;
}

void log_write(LogLevel level, std::string_view tag, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string raw = vstrformat(fmt, ap);
  va_end(ap);
  auto& s = state();
  std::vector<LogSink> sinks;
  std::string line;
  bool to_stderr;
  {
    std::lock_guard lock(s.mu);
    // Text from devices, brokers and the cloud ends up in lines: escaping keeps one log call one line,
    // so nobody outside can forge a journald priority or a line of ours.
    line = log_escape(scrub_locked(s, raw), MAX_LOG_LINE_BYTES);
    to_stderr = s.stderr_enabled;
    sinks.reserve(s.sinks.size());
    for (const auto& p : s.sinks) sinks.push_back(p.second);
  }
  if (to_stderr) {
    // "<N>" priority prefixes mean something only to journald; on a terminal they are noise.
    static const bool journald = std::getenv("JOURNAL_STREAM") != nullptr;
    if (journald) {
      std::fprintf(stderr, "<%d>%.*s [%.*s] %s\n", syslog_priority(level),
                   static_cast<int>(to_string(level).size()), to_string(level).data(),
                   static_cast<int>(tag.size()), tag.data(), line.c_str());
    } else {
      std::fprintf(stderr, "%.*s [%.*s] %s\n", static_cast<int>(to_string(level).size()),
                   to_string(level).data(), static_cast<int>(tag.size()), tag.data(), line.c_str());
    }
  }
  for (const auto& sink : sinks) sink(level, tag, line);
}

std::string log_escape(std::string_view text, size_t max_bytes) {
  static constexpr char HEX[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 16);
  size_t i = 0;
  for (; i < text.size() && out.size() < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += HEX[c >> 4];
      out += HEX[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (i < text.size()) out += strformat("... (%zu more bytes)", text.size() - i);
  return out;
}

std::string redact(std::string_view secret) {
  return "<redacted:" + std::to_string(secret.size()) + ">";
}

}  // namespace t2m
