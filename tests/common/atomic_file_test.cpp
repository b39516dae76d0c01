#include "common/atomic_file.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_atomic_file_test {

using namespace t2m;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = "/tmp/t2m-atomic-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("write_file_atomically writes, replaces, and sets the mode whatever the umask") {
  TempDir dir;
  const std::string path = dir.path + "/config.json";
  const mode_t old = ::umask(0);  // a permissive umask must not widen a secret file
  auto st = write_file_atomically(path, "first", OWNER_ONLY_FILE_MODE);
  ::umask(old);
  REQUIRE(st.ok());
  CHECK(slurp(path) == "first");
  CHECK(mode_of(path) == OWNER_ONLY_FILE_MODE);

  // A leftover temporary file from a crash, with wider permissions, is not reused as it is.
  { std::ofstream(path + ".tmp") << "stale"; }
  ::chmod((path + ".tmp").c_str(), 0666);
  REQUIRE(write_file_atomically(path, "second", OWNER_ONLY_FILE_MODE).ok());
  CHECK(slurp(path) == "second");
  CHECK(mode_of(path) == OWNER_ONLY_FILE_MODE);
  CHECK(::access((path + ".tmp").c_str(), F_OK) != 0);

  // A restrictive umask does not narrow a file meant to be readable: the mode is set, not masked.
  const mode_t strict = ::umask(0077);
  auto pub = write_file_atomically(path, "", PUBLIC_FILE_MODE);
  ::umask(strict);
  REQUIRE(pub.ok());
  CHECK(slurp(path).empty());
  CHECK(mode_of(path) == PUBLIC_FILE_MODE);
}

TEST_CASE("write_file_atomically fails as a value and leaves the old file alone") {
  TempDir dir;
  auto missing = write_file_atomically(dir.path + "/no/such/dir/file", "x", PUBLIC_FILE_MODE);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ERR_FILE_CREATE);
  CHECK(missing.error().message.find("no/such/dir/file.tmp") != std::string::npos);

  // The target is a directory: the rename fails, the temporary file goes, the directory stays.
  const std::string target = dir.path + "/occupied";
  REQUIRE(::mkdir(target.c_str(), 0755) == 0);
  { std::ofstream(target + "/inside") << "kept"; }
  auto blocked = write_file_atomically(target, "x", PUBLIC_FILE_MODE);
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.error().code == ERR_FILE_REPLACE);
  CHECK(::access((target + ".tmp").c_str(), F_OK) != 0);
  CHECK(slurp(target + "/inside") == "kept");
}

}  // namespace t2m_atomic_file_test
