// HttpTransport: a small HTTP/1.1 client (one connection per request,
// Connection: close) with OpenSSL for https, for `sozai federate join`.
#include "core/federated/coordinator.h"

#include "common/error.h"
#include "common/json.h"
#include "common/strings.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace sozai {
namespace federated {

namespace {

constexpr size_t kMaxResponse = size_t{1} << 30;

std::string ssl_error() {
  const unsigned long e = ERR_get_error();
  if (!e) return "TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

struct Socket {
  int fd = -1;
  SSL* ssl = nullptr;
  ~Socket() {
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (fd >= 0) ::close(fd);
  }
  void send_all(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      const int chunk = static_cast<int>(std::min<size_t>(data.size() - off, 1 << 20));
      const long n = ssl ? SSL_write(ssl, data.data() + off, chunk)
                         : ::send(fd, data.data() + off, static_cast<size_t>(chunk), MSG_NOSIGNAL);
      if (n <= 0) throw TransportError(str("sending the request failed: ", ssl ? ssl_error() : std::strerror(errno)));
      off += static_cast<size_t>(n);
    }
  }
  /// Bytes until the peer closes (or `limit`).
  std::string receive_all() {
    std::string out;
    char buf[65536];
    for (;;) {
      const long n = ssl ? SSL_read(ssl, buf, sizeof buf) : ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) break;
      if (n < 0) {
        if (ssl && SSL_get_error(ssl, static_cast<int>(n)) == SSL_ERROR_ZERO_RETURN) break;
        if (!out.empty() && ssl) break;  // a peer that closes without close_notify: the framing decides
        throw TransportError(str("reading the answer failed: ", ssl ? ssl_error() : std::strerror(errno)));
      }
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > kMaxResponse) throw TransportError("the answer is larger than 1 GiB");
    }
    return out;
  }
};

}  // namespace

HttpTransport::HttpTransport(const std::string& url, std::string token, std::string ca_file, double timeout)
    : token_(std::move(token)), ca_file_(std::move(ca_file)), timeout_(timeout) {
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    tls_ = true;
  } else {
    throw InputError(str("--server must be http://HOST:PORT or https://HOST:PORT, got '", printable(url, 100), "'"));
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  SOZAI_CHECK(rest.find('/') == std::string::npos, "--server takes no path: '", printable(url, 100), "'");
  size_t colon = rest.rfind(':');
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const size_t close = rest.find(']');
    SOZAI_CHECK(close != std::string::npos, "--server: unbalanced '[' in '", printable(url, 100), "'");
    host_ = rest.substr(1, close - 1);
    colon = rest.size() > close + 1 && rest[close + 1] == ':' ? close + 1 : std::string::npos;
  } else {
    host_ = rest.substr(0, colon);
  }
  port_ = tls_ ? 443 : 80;
  if (colon != std::string::npos) {
    const std::string p = rest.substr(colon + 1);
    SOZAI_CHECK(!p.empty() && p.size() <= 5 && p.find_first_not_of("0123456789") == std::string::npos,
                "--server: bad port in '", printable(url, 100), "'");
    port_ = std::stoi(p);
  }
  SOZAI_CHECK(!host_.empty() && port_ > 0 && port_ < 65536, "--server: no host or port in '", printable(url, 100), "'");
  SOZAI_CHECK(token_.size() <= 512 && std::all_of(token_.begin(), token_.end(), [](char c) { return c > 0x20 && c < 0x7f; }),
              "--token must be visible ASCII");
  if (tls_) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) throw InputError("cannot create a TLS context: " + ssl_error());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const bool ok = ca_file_.empty() ? SSL_CTX_set_default_verify_paths(ctx) == 1
                                     : SSL_CTX_load_verify_locations(ctx, ca_file_.c_str(), nullptr) == 1;
    if (!ok) {
      SSL_CTX_free(ctx);
      throw InputError(str("cannot load the CA certificates", ca_file_.empty() ? "" : " from '" + ca_file_ + "'", ": ",
                           ssl_error()));
    }
    ssl_ctx_ = ctx;
  }
}

HttpTransport::~HttpTransport() {
  if (ssl_ctx_) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

LabResponse HttpTransport::call(const std::string& method, const std::string& path, const nlohmann::json& body) {
  // Connect.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found);
  if (rc != 0) throw TransportError(str("cannot resolve '", host_, "': ", gai_strerror(rc)));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  Socket s;
  std::string why = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    s.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (s.fd < 0) continue;
    timeval tv{};
    tv.tv_sec = static_cast<long>(timeout_);
    tv.tv_usec = static_cast<long>((timeout_ - static_cast<double>(tv.tv_sec)) * 1e6);
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) == 0) break;
    why = std::strerror(errno);
    ::close(s.fd);
    s.fd = -1;
  }
  if (s.fd < 0) throw TransportError(str("cannot connect to ", host_, ":", port_, ": ", why));
  if (tls_) {
    s.ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
    SSL_set_fd(s.ssl, s.fd);
    in6_addr ip6;
    in_addr ip4;
    if (::inet_pton(AF_INET, host_.c_str(), &ip4) == 1 || ::inet_pton(AF_INET6, host_.c_str(), &ip6) == 1) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s.ssl), host_.c_str());
    } else {
      SSL_set_tlsext_host_name(s.ssl, host_.c_str());
      SSL_set1_host(s.ssl, host_.c_str());
    }
    if (SSL_connect(s.ssl) != 1) {
      const long v = SSL_get_verify_result(s.ssl);
      // A certificate that does not verify is not a passing outage: say so and stop.
      if (v != X509_V_OK)
        throw InputError(str("the coordinator's certificate does not verify: ", X509_verify_cert_error_string(v),
                             " (give its CA with --ca-cert)"));
      throw TransportError("TLS handshake failed: " + ssl_error());
    }
  }
  // Ask.
  const std::string payload = body.is_null() ? std::string() : json_io::dump_safe(body);
  std::string req = str(method, " ", path, " HTTP/1.1\r\nHost: ", host_, ":", port_, "\r\nAuthorization: Bearer ", token_,
                        "\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: sozai-federate\r\n");
  if (!body.is_null())
    req += str("Content-Type: application/json\r\nContent-Length: ", payload.size(), "\r\n");
  req += "\r\n";
  req += payload;
  s.send_all(req);
  sent_ += static_cast<int64_t>(req.size());
  // Read the answer: status line, headers, Content-Length body.
  const std::string raw = s.receive_all();
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0 || raw.size() < 12)
    throw TransportError("the coordinator's answer is not HTTP/1.1");
  LabResponse r;
  r.status = std::atoi(raw.substr(9, 3).c_str());
  if (r.status < 100 || r.status > 599) throw TransportError("the coordinator's answer has no status");
  int64_t length = -1;
  std::string content_type;
  size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    const size_t eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      const std::string name = to_lower(line.substr(0, colon));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
      if (name == "content-length") length = std::atoll(value.c_str());
      if (name == "content-type") content_type = value;
      if (name == "transfer-encoding") throw TransportError("the coordinator's answer is chunked (not expected)");
    }
    pos = eol + 2;
  }
  std::string payload_in = raw.substr(head_end + 4);
  if (length >= 0) {
    if (static_cast<int64_t>(payload_in.size()) < length) throw TransportError("the coordinator's answer was cut short");
    payload_in.resize(static_cast<size_t>(length));
  }
  if (content_type.rfind("application/json", 0) == 0 && !payload_in.empty()) {
    try {
      r.body = nlohmann::json::parse(payload_in);
    } catch (const nlohmann::json::exception&) {
      throw TransportError("the coordinator's answer is not valid JSON");
    }
  } else {
    r.text = payload_in;
    r.content_type = content_type;
  }
  return r;
}

}  // namespace federated
}  // namespace sozai
