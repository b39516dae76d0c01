#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace t2m {
namespace {

std::string why() {
  return std::strerror(errno);
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool write_all(int fd, std::string_view content) {
  size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Status write_file_atomically(const std::string& path, std::string_view content, mode_t mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover from a crash may carry other permissions
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail(std::string(ERR_FILE_CREATE), "cannot create " + tmp + ": " + why());
  ::fchmod(fd, mode);  // open() applied the umask
  const bool written = write_all(fd, content) && ::fsync(fd) == 0;
  const std::string write_error = written ? "" : why();
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    ::unlink(tmp.c_str());
    return fail(std::string(ERR_FILE_WRITE), "cannot write " + tmp + ": " + (written ? why() : write_error));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = why();
    ::unlink(tmp.c_str());
    return fail(std::string(ERR_FILE_REPLACE), "cannot replace " + path + ": " + e);
  }
  // The rename is durable once the directory entry is on disk. A directory that cannot be opened or
  // synced (some network file systems) leaves the new file in place: not an error worth undoing.
  const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace t2m
