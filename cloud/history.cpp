#include "cloud/history.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>

#include "common/log.h"

namespace t2m::cloud {

namespace {

const char* const HISTORY_TAG = "cloud.history";
constexpr int MAX_LOG_PAGES = 10000;  // 500 000 events: far beyond 7 days of any device

std::string row_key(const std::string& code, const std::string& value) {
  return code + '\x1f' + value;
}

struct LogWalk {
  std::string device_id;
  std::vector<std::string> codes;
  int64_t start = 0, end = 0;
  int page_size = HISTORY_PAGE_SIZE;
  std::vector<ReportLog> out;
  std::set<std::string> cursors;
  int pages = 0;
  Callback<std::vector<ReportLog>> cb;
};

void walk_logs(OpenApi& api, const std::shared_ptr<LogWalk>& w, const std::string& cursor) {
  api.get_report_logs(
      w->device_id, w->codes, w->start, w->end, w->page_size, cursor, [&api, w](Result<ReportLogPage> r) {
        if (!r) {
          w->cb(fail(r.error()));
          return;
        }
        ++w->pages;
        for (auto& l : r->logs) w->out.push_back(std::move(l));
        const std::string& next = r->last_row_key;
        bool more = r->has_more && !r->logs.empty() && !next.empty() && w->pages < MAX_LOG_PAGES;
        if (more && !w->cursors.insert(next).second) {
          T2M_LOGW(HISTORY_TAG, "report logs: the cloud repeated its cursor; stopping the walk");
          more = false;
        }
        if (more) {
          walk_logs(api, w, next);
          return;
        }
        // Pages come newest first; hand back oldest first, stable for equal times.
        std::stable_sort(w->out.begin(), w->out.end(),
                         [](const ReportLog& a, const ReportLog& b) { return a.event_time < b.event_time; });
        w->cb(std::move(w->out));
      });
}

}  // namespace

void fetch_report_logs(OpenApi& api, const std::string& device_id, const std::vector<std::string>& codes,
                       int64_t start_ms, int64_t end_ms, Callback<std::vector<ReportLog>> cb, int page_size) {
  auto w = std::make_shared<LogWalk>();
  w->device_id = device_id;
  w->codes = codes;
  w->start = start_ms;
  w->end = end_ms;
  w->page_size = page_size;
  w->cb = std::move(cb);
  walk_logs(api, w, "");
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::vector<std::string> parse_csv_line(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else if (c != '\r' && c != '\n') {
      cur += c;
    }
  }
  out.push_back(std::move(cur));
  return out;
}

std::string iso_utc(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string csv_row(const std::string& device_id, const ReportLog& log) {
  return std::to_string(log.event_time) + "," + iso_utc(log.event_time) + "," + csv_field(device_id) + "," +
         csv_field(log.code) + "," + csv_field(log.value) + "\n";
}

Result<CsvState> read_csv_state(const std::string& path, const std::string& device_id) {
  CsvState st;
  std::ifstream in(path);
  if (!in) return st;  // a new file
  st.exists = true;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (first) {
      first = false;
      if (line.rfind("event_time_ms,", 0) == 0) continue;
      return fail(ERR_HISTORY_FILE, path + " exists but is not a tuya2mqtt history file (unexpected header)");
    }
    auto f = parse_csv_line(line);
    if (f.size() < 5) return fail(ERR_HISTORY_FILE, path + ": malformed line " + std::to_string(st.rows + 2));
    if (f[2] != device_id) {
      return fail(ERR_HISTORY_FILE, path + " holds history of another device (" + f[2] + ")");
    }
    char* end = nullptr;
    const long long t = std::strtoll(f[0].c_str(), &end, 10);
    if (!end || *end != 0)
      return fail(ERR_HISTORY_FILE, path + ": bad time on line " + std::to_string(st.rows + 2));
    ++st.rows;
    if (t > st.last_time) {
      st.last_time = t;
      st.rows_at_last.clear();
    }
    if (t == st.last_time) st.rows_at_last.insert(row_key(f[3], f[4]));
  }
  return st;
}

Result<int64_t> parse_time_arg(std::string_view text, int64_t now_ms) {
  if (text.empty()) return fail("bad_time", "empty time");
  const char unit = text.back();
  const std::string_view digits =
      (unit == 'd' || unit == 'h' || unit == 'm') ? text.substr(0, text.size() - 1) : text;
  const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(),
                                                         [](char c) { return c >= '0' && c <= '9'; });
  if (all_digits && digits.size() != text.size()) {
    const int64_t n = std::stoll(std::string(digits));
    const int64_t per = unit == 'd' ? 86400000LL : unit == 'h' ? 3600000LL : 60000LL;
    return now_ms - n * per;
  }
  if (all_digits) {
    const int64_t n = std::stoll(std::string(text));
    return text.size() >= 13 ? n : n * 1000;  // ms or s
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const std::string t(text);
  const int got = std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s);
  if (got != 3 && got != 6)
    return fail("bad_time", "cannot read time '" + t + "' (ms, s, YYYY-MM-DD[THH:MM:SSZ], 7d, 12h, 30m)");
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return fail("bad_time", "time out of range: " + t);
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

void export_history(OpenApi& api, HistoryRequest req, int64_t now_ms, Callback<HistoryResult> cb) {
  auto state = read_csv_state(req.out_path, req.device_id);
  if (!state) {
    cb(fail(state.error()));
    return;
  }
  HistoryResult res;
  res.to_ms = req.until_ms ? req.until_ms : now_ms;
  // Resume at the newest event already written (inclusive: same-millisecond rows are de-duplicated).
  int64_t from = req.since_ms ? req.since_ms : now_ms - HISTORY_DEFAULT_SPAN_MS;
  if (state->exists && state->last_time > 0) from = std::max(from, state->last_time);
  res.from_ms = from;

  auto run = [&api, req, res, st = state.value(), cb](std::vector<std::string> codes) mutable {
    if (codes.empty()) {
      cb(fail(ERR_BAD_REQUEST, "no DP codes to ask for: give --codes"));
      return;
    }
    fetch_report_logs(api, req.device_id, codes, res.from_ms, res.to_ms,
                      [req, res, st, cb](Result<std::vector<ReportLog>> logs) mutable {
                        if (!logs) {
                          cb(fail(logs.error()));
                          return;
                        }
                        res.fetched = logs->size();
                        std::string out;
                        std::set<std::string> written_at_last = st.rows_at_last;
                        int64_t last = st.last_time;
                        for (const auto& l : logs.value()) {
                          if (l.event_time < st.last_time) continue;
                          const std::string key = row_key(l.code, l.value);
                          if (l.event_time == last && written_at_last.count(key)) continue;
                          if (l.event_time > last) {
                            last = l.event_time;
                            written_at_last.clear();
                          }
                          written_at_last.insert(key);
                          out += csv_row(req.device_id, l);
                          ++res.appended;
                        }
                        std::ofstream f(req.out_path, std::ios::app | std::ios::binary);
                        if (!f) {
                          cb(fail(ERR_HISTORY_FILE, "cannot write " + req.out_path));
                          return;
                        }
                        if (!st.exists) f << HISTORY_CSV_HEADER << "\n";
                        f << out;
                        f.flush();
                        if (!f) {
                          cb(fail(ERR_HISTORY_FILE, "write failed on " + req.out_path));
                          return;
                        }
                        cb(res);
                      });
  };
  if (!req.codes.empty()) {
    run(req.codes);
    return;
  }
  api.get_specification(req.device_id, [run, cb](Result<Specification> spec) mutable {
    if (!spec) {
      cb(fail(spec.error()));
      return;
    }
    std::vector<std::string> codes;
    for (const auto& d : spec->merged()) codes.push_back(d.code);
    run(std::move(codes));
  });
}

}  // namespace t2m::cloud
