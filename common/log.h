// Logging: a TAG per file, levels, pluggable sinks, and a secret scrubber that removes every
// registered secret (local keys, cloud secrets, tokens) from a line before any sink sees it.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace t2m {

enum class LogLevel : int { ERROR = 0, WARN = 1, INFO = 2, DEBUG = 3, VERBOSE = 4 };

std::string_view to_string(LogLevel level);
bool parse_log_level(std::string_view text, LogLevel& out);

void log_set_level(LogLevel level);
LogLevel log_level();
inline bool log_enabled(LogLevel level) {
  return static_cast<int>(level) <= static_cast<int>(log_level());
}

// A sink receives already-scrubbed lines. Sinks may be called from any thread that logs;
// a sink that touches loop state must post() to the loop itself.
using LogSink = std::function<void(LogLevel, std::string_view tag, std::string_view message)>;
// Returns an id for log_remove_sink.
int log_add_sink(LogSink sink);
void log_remove_sink(int id);
// Turns the default stderr sink on or off (tests and one-shot commands that print JSON turn it off).
void log_set_stderr(bool enabled);

// Secrets shorter than 4 characters are ignored: scrubbing them would mangle ordinary text.
void log_register_secret(std::string_view secret);
void log_clear_secrets();
std::string log_scrub(std::string_view text);

// Formats like printf. Never pass a secret; use redact() when a line must mention one.
void log_write(LogLevel level, std::string_view tag, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
std::string strformat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string vstrformat(const char* fmt, va_list ap);

// A logged line is cut past this size: a 64 KB topic or payload says nothing more than its start.
inline constexpr size_t MAX_LOG_LINE_BYTES = 4096;
// Control characters become \n, \t, \xNN, so text from outside cannot start a line of its own;
// past max_bytes the rest is replaced by a note of how much was cut.
std::string log_escape(std::string_view text, size_t max_bytes = MAX_LOG_LINE_BYTES);

// "<redacted:16>": says that a value was there and how long it was, never what it was.
std::string redact(std::string_view secret);

}  // namespace t2m

#define T2M_LOG_AT(level, tag, ...)                                           \
  do {                                                                        \
    if (::t2m::log_enabled(level)) ::t2m::log_write(level, tag, __VA_ARGS__); \
  } while (0)
#define T2M_LOGE(tag, ...) T2M_LOG_AT(::t2m::LogLevel::ERROR, tag, __VA_ARGS__)
#define T2M_LOGW(tag, ...) T2M_LOG_AT(::t2m::LogLevel::WARN, tag, __VA_ARGS__)
#define T2M_LOGI(tag, ...) T2M_LOG_AT(::t2m::LogLevel::INFO, tag, __VA_ARGS__)
#define T2M_LOGD(tag, ...) T2M_LOG_AT(::t2m::LogLevel::DEBUG, tag, __VA_ARGS__)
#define T2M_LOGV(tag, ...) T2M_LOG_AT(::t2m::LogLevel::VERBOSE, tag, __VA_ARGS__)
