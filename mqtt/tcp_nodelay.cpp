#include "mqtt/tcp_nodelay.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <memory>

namespace t2m::mqtt {
namespace {

// Only the descriptors actually open are listed here; probing every number up to RLIMIT_NOFILE meant up to
// 2^20 getsockopt calls on the loop thread at every (re)connect.
constexpr const char* OPEN_FDS_DIR = "/proc/self/fd";
constexpr int FIRST_NON_STDIO_FD = 3;

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};

bool set_nodelay_if_tcp(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return false;
  int nodelay = 0;
  len = sizeof nodelay;
  // Unix stream sockets fail here (no TCP level) and are skipped.
  if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) != 0 || nodelay) return false;
  nodelay = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay) == 0;
}

}  // namespace

// Paho C never sets TCP_NODELAY and offers no way to reach its socket. Without it a state message and
// the set/result that follows it wait for the broker's delayed ACK (Nagle): ~5 ms more per command round
// trip, measured by bench/. Device sockets already have it, so the only one that changes is the broker's.
// Without /proc nothing is changed: latency, not correctness, is at stake.
int set_nodelay_on_tcp_sockets() {
  std::unique_ptr<DIR, DirCloser> dir(opendir(OPEN_FDS_DIR));
  if (!dir) return 0;
  const int own_fd = dirfd(dir.get());
  int changed = 0;
  while (const dirent* entry = readdir(dir.get())) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;  // "." and ".."
    if (fd < FIRST_NON_STDIO_FD || fd == own_fd) continue;
    if (set_nodelay_if_tcp(static_cast<int>(fd))) ++changed;
  }
  return changed;
}

}  // namespace t2m::mqtt
