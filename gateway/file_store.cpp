#include "gateway/file_store.h"

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "common/atomic_file.h"
#include "common/json_input.h"
#include "common/log.h"

namespace t2m::gw {
namespace {

constexpr std::string_view FILE_STORE_TAG = "gateway.store";
// Where releases before the state directory kept the learned modes: next to the configuration.
constexpr std::string_view LEGACY_LEARNED_SUFFIX = ".learned";
constexpr size_t READ_CHUNK_BYTES = 4096;

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::optional<std::string> read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return std::nullopt;
  std::string text;
  char buf[READ_CHUNK_BYTES];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return text;
}

}  // namespace

std::string state_directory(const std::string& config_path, const std::string& flag) {
  if (!flag.empty()) return flag;
  // systemd may list several directories separated by ':'; the first is this unit's own.
  if (const char* env = std::getenv("STATE_DIRECTORY"); env && *env) {
    std::string dirs(env);
    return dirs.substr(0, dirs.find(':'));
  }
  return dir_of(config_path);
}

FileStore::FileStore(std::string config_path, std::string state_dir)
    : config_path_(std::move(config_path)), learned_path_(state_dir + "/" + std::string(LEARNED_FILE_NAME)) {}

Status FileStore::save_config(const config::Config& config) {
  return config::save_config(config, config_path_);
}

nlohmann::json FileStore::load_learned() const {
  std::string path = learned_path_;
  auto text = read_file(path);
  if (!text) {
    path = config_path_ + std::string(LEGACY_LEARNED_SUFFIX);
    text = read_file(path);
  }
  if (!text) return nlohmann::json::object();
  auto j = parse_json(*text);
  if (!j.ok() || !j->is_object()) {
    T2M_LOGW(FILE_STORE_TAG, "ignoring %s: not a JSON object", path.c_str());
    return nlohmann::json::object();
  }
  return std::move(j.value());
}

void FileStore::save_learned(const nlohmann::json& learned) {
  auto st = write_file_atomically(learned_path_, learned.dump(2), PUBLIC_FILE_MODE);
  if (st.ok()) return;
  // A state directory we cannot write to is said once: it must not fill the log at every learned mode.
  if (st.error().code == ERR_FILE_CREATE) {
    if (!warned_unwritable_)
      T2M_LOGW(FILE_STORE_TAG, "%s: learned versions are kept in memory only (set --state-dir)",
               st.error().message.c_str());
    warned_unwritable_ = true;
    return;
  }
  T2M_LOGW(FILE_STORE_TAG, "%s", st.error().message.c_str());
}

}  // namespace t2m::gw
