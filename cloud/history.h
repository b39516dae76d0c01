// Device history from the cloud's report logs (docs/cloud.md §4.6), exported to CSV incrementally:
// the walk goes backwards (newest-first pages) from now to the resume point, and only events newer
// than what the file already holds are appended, so running it twice adds nothing.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cloud/models.h"
#include "cloud/openapi.h"

namespace t2m::cloud {

inline constexpr const char* ERR_HISTORY_FILE = "cloud_history_file";
inline constexpr int HISTORY_PAGE_SIZE = 50;                                // the API wants size < 100
inline constexpr int64_t HISTORY_DEFAULT_SPAN_MS = 7LL * 24 * 3600 * 1000;  // default log retention
inline constexpr const char* HISTORY_CSV_HEADER = "event_time_ms,time_utc,device_id,code,value";

// Every log in [start_ms, end_ms] for `codes`, oldest first. Stops on a repeated or empty cursor.
void fetch_report_logs(OpenApi& api, const std::string& device_id, const std::vector<std::string>& codes,
                       int64_t start_ms, int64_t end_ms, Callback<std::vector<ReportLog>> cb,
                       int page_size = HISTORY_PAGE_SIZE);

// What an existing CSV already holds: the newest event time, and the rows at exactly that time
// (several DPs often report in the same millisecond).
struct CsvState {
  bool exists = false;
  int64_t last_time = 0;
  std::set<std::string> rows_at_last;  // "code\x1fvalue"
  size_t rows = 0;
};
Result<CsvState> read_csv_state(const std::string& path, const std::string& device_id);

std::string csv_field(std::string_view text);
std::string iso_utc(int64_t ms);
// One CSV line (with '\n').
std::string csv_row(const std::string& device_id, const ReportLog& log);
// Splits one CSV line into fields (RFC 4180 quoting). Used to read back our own files.
std::vector<std::string> parse_csv_line(std::string_view line);

// "1700000000000" (ms), "1700000000" (s), "2023-11-14", "2023-11-14T22:13:20Z", or relative "7d",
// "12h", "30m" before `now_ms`.
Result<int64_t> parse_time_arg(std::string_view text, int64_t now_ms);

struct HistoryRequest {
  std::string device_id;
  std::vector<std::string> codes;  // empty: every status code of the device's specification
  int64_t since_ms = 0;            // 0: resume from the file, else HISTORY_DEFAULT_SPAN_MS back
  int64_t until_ms = 0;            // 0: now
  std::string out_path;
};

struct HistoryResult {
  size_t fetched = 0;
  size_t appended = 0;
  int64_t from_ms = 0, to_ms = 0;
};

// Fetches and appends. Uses `api` for the clock-corrected wall time via `now_ms`.
void export_history(OpenApi& api, HistoryRequest request, int64_t now_ms, Callback<HistoryResult> cb);

}  // namespace t2m::cloud
