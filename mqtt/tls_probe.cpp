#include "mqtt/tls_probe.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace t2m::mqtt {
namespace {

// After a TLS 1.3 handshake the client is done before the server has checked the client
// certificate; a rejection arrives as an alert shortly after, so wait this long for one.
constexpr int POST_HANDSHAKE_WAIT_MS = 500;

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct AddrDeleter {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return {};
  const char* r = ERR_reason_error_string(e);
  return r ? r : "unknown TLS error";
}

int connect_with_timeout(const std::string& host, uint16_t port, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &raw); rc != 0) {
    why = std::string("cannot resolve host: ") + gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, AddrDeleter> addrs(raw);
  for (addrinfo* a = addrs.get(); a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = ETIMEDOUT;
      if (::poll(&p, 1, TLS_PROBE_TIMEOUT_MS) == 1) {
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) return fd;  // stays non-blocking: the handshake is driven with poll()
    why = std::strerror(errno);
    ::close(fd);
  }
  if (why.empty()) why = "no usable address";
  return -1;
}

}  // namespace

bool split_server_uri(const std::string& uri, std::string& scheme, std::string& host, uint16_t& port) {
  auto sep = uri.find("://");
  if (sep == std::string::npos) return false;
  scheme = uri.substr(0, sep);
  std::string rest = uri.substr(sep + 3);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return false;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port_text = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    host = rest.substr(0, colon);
    if (colon != std::string::npos) port_text = rest.substr(colon + 1);
  }
  if (host.empty()) return false;
  bool tls = scheme == "ssl" || scheme == "mqtts" || scheme == "wss";
  long p = tls ? 8883 : 1883;
  if (!port_text.empty()) {
    char* end = nullptr;
    p = std::strtol(port_text.c_str(), &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535) return false;
  }
  port = static_cast<uint16_t>(p);
  return true;
}

TlsProbeResult probe_tls(const std::string& host, uint16_t port, const TlsOptions& tls) {
  TlsProbeResult out;
  std::string why;
  Fd fd(connect_with_timeout(host, port, why));
  if (fd.get() < 0) {
    out.outcome = TlsProbeResult::Outcome::TCP_FAILED;
    out.reason = why;
    return out;
  }
  out.outcome = TlsProbeResult::Outcome::TLS_FAILED;
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    out.reason = "cannot create a TLS context";
    return out;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!tls.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) != 1) {
      out.local = true;
      out.reason = "cannot load CA file " + tls.ca_file + ": " + openssl_reason();
      return out;
    }
  } else {
    SSL_CTX_set_default_verify_paths(ctx.get());
  }
  if (!tls.cert_file.empty() && SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1) {
    out.local = true;
    out.reason = "cannot load client certificate " + tls.cert_file + ": " + openssl_reason();
    return out;
  }
  std::string key = tls.key_file.empty() ? tls.cert_file : tls.key_file;
  if (!key.empty() && !tls.cert_file.empty()) {
    // The password is only handed to OpenSSL, never copied into a message.
    SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), const_cast<char*>(tls.key_password.c_str()));
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      out.local = true;
      out.reason = "cannot load client key " + key + " (wrong key password?): " + openssl_reason();
      return out;
    }
  }
  std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(ctx.get()));
  if (!ssl) {
    out.reason = "cannot create a TLS session";
    return out;
  }
  in6_addr ip6{};
  in_addr ip4{};
  bool is_ip = inet_pton(AF_INET, host.c_str(), &ip4) == 1 || inet_pton(AF_INET6, host.c_str(), &ip6) == 1;
  // SNI; SSL_set_tlsext_host_name() is a macro with a C cast.
  if (!is_ip)
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host.c_str()));
  if (tls.verify_hostname) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    if (is_ip)
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  SSL_set_fd(ssl.get(), fd.get());
  // Non-blocking socket: drive the handshake with poll and a deadline.
  auto step = [&](auto&& op, int timeout_ms) -> int {
    while (true) {
      int rc = op();
      if (rc > 0) return rc;
      int err = SSL_get_error(ssl.get(), rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return rc;
      pollfd p{fd.get(), static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      if (::poll(&p, 1, timeout_ms) != 1) return 0;  // timed out
    }
  };
  int rc = step([&] { return SSL_connect(ssl.get()); }, TLS_PROBE_TIMEOUT_MS);
  if (rc != 1) {
    long verify = SSL_get_verify_result(ssl.get());
    std::string reason = openssl_reason();
    if (verify != X509_V_OK) {
      out.reason = "certificate verify failed (" + std::string(X509_verify_cert_error_string(verify)) + ")";
    } else if (!reason.empty()) {
      out.reason = reason;
    } else if (rc == 0) {
      out.reason = "handshake timed out";
    } else {
      out.reason = "connection closed during the handshake";
    }
    return out;
  }
  char byte = 0;
  rc = step([&] { return SSL_peek(ssl.get(), &byte, 1); }, POST_HANDSHAKE_WAIT_MS);
  if (rc < 0 || (rc == 0 && SSL_get_error(ssl.get(), rc) == SSL_ERROR_SSL)) {
    std::string reason = openssl_reason();
    if (!reason.empty()) {
      out.reason = reason;
      return out;
    }
  }
  ERR_clear_error();
  out.outcome = TlsProbeResult::Outcome::TLS_OK;
  return out;
}

}  // namespace t2m::mqtt
