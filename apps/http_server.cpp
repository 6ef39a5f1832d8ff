#include "apps/http_server.h"
#include "common/error.h"
#include "common/strings.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace sozai {
namespace http {

// ---------------------------------------------------------------- requests

namespace {

bool iequals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

/// RFC 9110 tchar.
bool is_tchar(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string trim_ows(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string Request::header(const std::string& name) const {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return h.value;
  return "";
}

bool Request::has_header(const std::string& name) const {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return true;
  return false;
}

std::string Request::query_value(const std::string& name) const {
  for (const auto& q : query)
    if (q.first == name) return q.second;
  return "";
}

bool Request::has_query(const std::string& name) const {
  for (const auto& q : query)
    if (q.first == name) return true;
  return false;
}

std::optional<std::string> percent_decode(const std::string& text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (plus_is_space && c == '+') {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  if (!valid_utf8(out)) return std::nullopt;
  return out;
}

RequestParser::RequestParser(const Limits& limits) : limits_(limits) {}

void RequestParser::reset() {
  state_ = State::Headers;
  started_ = body_accepted_ = false;
  head_.clear();
  request_ = Request{};
  error_status_ = 0;
  error_.clear();
  chunk_ = Chunk::Size;
  line_.clear();
  chunk_left_ = 0;
  trailer_bytes_ = 0;
}

bool RequestParser::fail(int status, std::string why) {
  state_ = State::Failed;
  error_status_ = status;
  error_ = std::move(why);
  return false;
}

void RequestParser::accept_body() {
  if (state_ != State::Body || body_accepted_) return;
  body_accepted_ = true;
  if (!request_.body_announced()) state_ = State::Done;
}

size_t RequestParser::feed(const char* data, size_t n) {
  size_t used = 0;
  while (used < n) {
    if (state_ == State::Headers) {
      // Blank lines before a request line are ignored (RFC 9112 2.2), a few of them.
      if (head_.empty()) {
        while (used < n && (data[used] == '\r' || data[used] == '\n') && used < 8) ++used;
        if (used == n) return used;
      }
      started_ = true;
      // Take bytes up to and including the blank line that ends the headers,
      // looking only at the new ones (a byte-at-a-time sender costs O(n)).
      const size_t before = head_.size();
      const size_t room = limits_.max_header_bytes + 4 > before ? limits_.max_header_bytes + 4 - before : 0;
      const size_t take = std::min(n - used, room);
      head_.append(data + used, take);
      size_t end = std::string::npos;
      for (size_t i = before; i < head_.size(); ++i) {
        // Every LF must follow a CR, and every CR precede an LF.
        if (head_[i] == '\n' && (i == 0 || head_[i - 1] != '\r')) {
          fail(400, "lines must end with CRLF");
          return used + (i - before) + 1;
        }
        if (i > 0 && head_[i - 1] == '\r' && head_[i] != '\n') {
          fail(400, "lines must end with CRLF");
          return used + (i - before) + 1;
        }
        if (i >= 3 && head_.compare(i - 3, 4, "\r\n\r\n") == 0) {
          end = i + 1;
          break;
        }
      }
      if (end == std::string::npos) {
        used += take;
        if (head_.size() > limits_.max_header_bytes) {
          fail(431, str("the request line and headers exceed ", limits_.max_header_bytes, " bytes"));
          return used;
        }
        continue;
      }
      used += end - before;
      head_.resize(end);
      if (end > limits_.max_header_bytes) {
        fail(431, str("the request line and headers exceed ", limits_.max_header_bytes, " bytes"));
        return used;
      }
      if (!parse_head()) return used;
      state_ = State::Body;
      return used;  // the caller looks at the headers first
    }
    if (state_ == State::Body) {
      if (!body_accepted_) return used;
      size_t k = 0;
      if (!body_bytes(data + used, n - used, k)) return used + k;
      used += k;
      if (state_ == State::Done) return used;
      continue;
    }
    return used;  // Done or Failed: the rest is not ours
  }
  return used;
}

bool RequestParser::parse_head() {
  // Every line must end with CRLF; no bare CR or LF inside.
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < head_.size()) {
    const auto eol = head_.find("\r\n", pos);
    const std::string line = head_.substr(pos, eol - pos);
    if (line.find('\n') != std::string::npos || line.find('\r') != std::string::npos)
      return fail(400, "lines must end with CRLF");
    lines.push_back(line);
    pos = eol + 2;
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) return fail(400, "no request line");

  // request-line = method SP request-target SP HTTP-version
  const std::string& rl = lines[0];
  const auto sp1 = rl.find(' ');
  const auto sp2 = sp1 == std::string::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos || rl.find(' ', sp2 + 1) != std::string::npos)
    return fail(400, "malformed request line");
  request_.method = rl.substr(0, sp1);
  request_.target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string version = rl.substr(sp2 + 1);
  if (request_.method.empty() || request_.method.size() > 16 ||
      !std::all_of(request_.method.begin(), request_.method.end(), [](char c) { return is_tchar(c); }))
    return fail(400, "malformed method");
  if (version == "HTTP/1.1") request_.minor_version = 1;
  else if (version == "HTTP/1.0") request_.minor_version = 0;
  else if (version.rfind("HTTP/", 0) == 0) return fail(505, "only HTTP/1.1 and HTTP/1.0 are spoken here");
  else return fail(400, "malformed request line");
  if (request_.target.empty() || request_.target[0] != '/' || request_.target.size() > 8192)
    return fail(400, "the request target must be a path of at most 8192 bytes");
  for (unsigned char c : request_.target)
    if (c <= 0x20 || c >= 0x7f) return fail(400, "the request target holds a byte that must be percent-encoded");
  const auto qpos = request_.target.find('?');
  auto path = percent_decode(request_.target.substr(0, qpos), false);
  if (!path) return fail(400, "the path is not percent-encoded UTF-8");
  request_.path = *path;
  if (qpos != std::string::npos) {
    const std::string qs = request_.target.substr(qpos + 1);
    size_t b = 0;
    while (b <= qs.size()) {
      auto e = qs.find('&', b);
      if (e == std::string::npos) e = qs.size();
      const std::string part = qs.substr(b, e - b);
      if (!part.empty()) {
        const auto eq = part.find('=');
        auto k = percent_decode(part.substr(0, eq), true);
        auto v = percent_decode(eq == std::string::npos ? "" : part.substr(eq + 1), true);
        if (!k || !v) return fail(400, "the query is not percent-encoded UTF-8");
        request_.query.emplace_back(*k, *v);
      }
      b = e + 1;
    }
  }

  if (lines.size() - 1 > limits_.max_header_count)
    return fail(431, str("more than ", limits_.max_header_count, " header fields"));
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty()) return fail(400, "empty header line");
    if (l[0] == ' ' || l[0] == '\t') return fail(400, "obsolete line folding is not accepted");
    const auto colon = l.find(':');
    if (colon == std::string::npos || colon == 0) return fail(400, "malformed header field");
    Header h{l.substr(0, colon), trim_ows(l.substr(colon + 1))};
    if (!std::all_of(h.name.begin(), h.name.end(), [](char c) { return is_tchar(c); }))
      return fail(400, "malformed header name (no space is allowed before the colon)");
    for (unsigned char c : h.value)
      if ((c < 0x20 && c != '\t') || c == 0x7f) return fail(400, str("header '", h.name, "' holds a control byte"));
    request_.headers.push_back(std::move(h));
  }

  // Framing (RFC 9112 6): exactly one way to find the end of the body.
  int hosts = 0, te_count = 0;
  std::string length_text;
  bool has_length = false;
  for (const auto& h : request_.headers) {
    if (iequals(h.name, "Host")) ++hosts;
    if (iequals(h.name, "Transfer-Encoding")) {
      ++te_count;
      if (!iequals(h.value, "chunked")) return fail(501, str("Transfer-Encoding '", h.value, "' is not supported; only chunked"));
      request_.chunked = true;
    }
    if (iequals(h.name, "Content-Length")) {
      if (h.value.empty() || h.value.size() > 18 ||
          !std::all_of(h.value.begin(), h.value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail(400, "Content-Length must be a decimal number");
      if (has_length && h.value != length_text) return fail(400, "differing Content-Length headers");
      has_length = true;
      length_text = h.value;
    }
  }
  if (request_.minor_version == 1 && hosts != 1) return fail(400, "an HTTP/1.1 request needs exactly one Host header");
  if (te_count > 1) return fail(400, "more than one Transfer-Encoding header");
  if (request_.chunked && has_length) return fail(400, "both Content-Length and Transfer-Encoding: refused as ambiguous");
  if (request_.chunked && request_.minor_version == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
  if (has_length) {
    request_.content_length = std::stoll(length_text);
    if (static_cast<uint64_t>(request_.content_length) > limits_.max_body_bytes)
      return fail(413, str("the body is larger than ", limits_.max_body_bytes, " bytes"));
  }
  return true;
}

bool RequestParser::body_bytes(const char* data, size_t n, size_t& used) {
  used = 0;
  auto& body = request_.body;
  if (!request_.chunked) {
    const size_t want = static_cast<size_t>(request_.content_length) - body.size();
    const size_t k = std::min(want, n);
    body.append(data, k);
    used = k;
    if (body.size() == static_cast<size_t>(request_.content_length)) state_ = State::Done;
    return true;
  }
  constexpr size_t kMaxLine = 4096;  // chunk-size line with its extensions
  while (used < n && state_ == State::Body) {
    switch (chunk_) {
      case Chunk::Size:
      case Chunk::Trailer: {
        const char c = data[used++];
        line_.push_back(c);
        if (chunk_ == Chunk::Trailer && ++trailer_bytes_ > limits_.max_header_bytes)
          return fail(431, "the chunked trailer is too large");
        if (line_.size() > kMaxLine) return fail(400, "a chunk-size line is too long");
        if (c != '\n') continue;
        if (line_.size() < 2 || line_[line_.size() - 2] != '\r') return fail(400, "lines must end with CRLF");
        line_.resize(line_.size() - 2);
        if (line_.find('\r') != std::string::npos) return fail(400, "lines must end with CRLF");
        if (chunk_ == Chunk::Trailer) {
          if (line_.empty()) state_ = State::Done;
          line_.clear();
          continue;
        }
        const std::string size_text = trim_ows(line_.substr(0, line_.find(';')));
        line_.clear();
        if (size_text.empty() || size_text.size() > 15) return fail(400, "malformed chunk size");
        uint64_t size = 0;
        for (char h : size_text) {
          const int v = hex_value(h);
          if (v < 0) return fail(400, "malformed chunk size");
          size = size * 16 + static_cast<uint64_t>(v);
        }
        if (body.size() + size > limits_.max_body_bytes)
          return fail(413, str("the body is larger than ", limits_.max_body_bytes, " bytes"));
        if (size == 0) chunk_ = Chunk::Trailer;
        else {
          chunk_left_ = size;
          chunk_ = Chunk::Data;
        }
        break;
      }
      case Chunk::Data: {
        const size_t k = static_cast<size_t>(std::min<uint64_t>(chunk_left_, n - used));
        body.append(data + used, k);
        used += k;
        chunk_left_ -= k;
        if (chunk_left_ == 0) chunk_ = Chunk::DataEnd;
        break;
      }
      case Chunk::DataEnd: {
        line_.push_back(data[used++]);
        if (line_.size() < 2) continue;
        if (line_ != "\r\n") return fail(400, "a chunk must end with CRLF");
        line_.clear();
        chunk_ = Chunk::Size;
        break;
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------- responses

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

std::string serialize(const Response& r, bool keep_alive) {
  std::string out;
  out.reserve(r.body.size() + 512);
  out += str("HTTP/1.1 ", r.status, " ", reason_phrase(r.status), "\r\n");
  out += "Content-Type: " + r.content_type + "\r\n";
  out += str("Content-Length: ", r.body.size(), "\r\n");
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "X-Content-Type-Options: nosniff\r\n";
  out += "X-Frame-Options: DENY\r\n";
  out += "Referrer-Policy: no-referrer\r\n";
  bool has_cache = false, has_csp = false;
  for (const auto& h : r.headers) {
    has_cache |= iequals(h.name, "Cache-Control");
    has_csp |= iequals(h.name, "Content-Security-Policy");
  }
  if (!has_cache) out += "Cache-Control: no-store\r\n";
  if (!has_csp) out += "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n";
  for (const auto& h : r.headers) out += h.name + ": " + h.value + "\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

// ---------------------------------------------------------------- server

namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

std::string ssl_error_text() {
  const unsigned long e = ERR_get_error();
  if (!e) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

/// Lingering: the answer went out and the write side is shut; what the
/// client still sends is read and dropped for a moment, so that closing
/// with unread bytes does not reset the connection before the client has
/// read why it was refused.
enum class Phase { Handshake, Reading, Handling, Writing, Lingering };

struct Connection {
  uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  std::string peer;
  Phase phase = Phase::Reading;
  std::string in;         ///< bytes read and not yet parsed
  std::string out;        ///< bytes to send
  size_t out_pos = 0;
  bool close_after_write = false;
  bool peer_closed = false;
  bool prechecked = false;
  size_t requests = 0;
  size_t discarded = 0;
  Clock::time_point deadline;
  int deadline_status = 0;  ///< 408: answer before closing at the deadline; 0: just close
  uint32_t events = 0;    ///< epoll interest now
  std::unique_ptr<RequestParser> parser;
};

struct Job {
  uint64_t connection;
  Request request;
  bool keep_alive;
};

struct Done {
  uint64_t connection;
  Response response;
  bool keep_alive;
};

}  // namespace

struct Server::Impl {
  Limits limits;
  Precheck precheck;
  Handler handler;
  SSL_CTX* ctx = nullptr;
  int listen_fd = -1, epoll_fd = -1, wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> n_connections{0}, n_requests{0}, n_refused{0}, n_timed_out{0};
  std::atomic<size_t> n_open{0};

  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections;
  std::vector<uint64_t> ready;  ///< connections with buffered bytes to parse
  std::map<std::string, size_t> per_peer;
  uint64_t next_id = 1;

  std::mutex jobs_mutex;
  std::condition_variable jobs_cv;
  std::deque<Job> jobs;
  bool workers_quit = false;
  size_t busy = 0;  ///< jobs taken and not done
  std::mutex done_mutex;
  std::vector<Done> done;
  std::vector<std::thread> workers;

  ~Impl() {
    for (auto& kv : connections) close_now(*kv.second, false);
    connections.clear();
    if (listen_fd >= 0) ::close(listen_fd);
    if (epoll_fd >= 0) ::close(epoll_fd);
    if (wake_fd >= 0) ::close(wake_fd);
    if (ctx) SSL_CTX_free(ctx);
  }

  void wake() {
    const uint64_t one = 1;
    if (wake_fd >= 0) {
      ssize_t r = ::write(wake_fd, &one, sizeof one);
      (void)r;
    }
  }

  void set_events(Connection& c, uint32_t events) {
    if (c.events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = events;
  }

  void close_now(Connection& c, bool erase_peer = true) {
    if (c.fd < 0) return;
    if (c.ssl) {
      SSL_free(c.ssl);
      c.ssl = nullptr;
    }
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    n_open--;
    if (erase_peer) {
      auto it = per_peer.find(c.peer);
      if (it != per_peer.end() && --it->second == 0) per_peer.erase(it);
    }
  }

  // -------- I/O on one connection (plain or TLS). >0 bytes; 0 would block; -1 closed or failed.
  ssize_t read_some(Connection& c, char* buf, size_t n) {
    if (!c.ssl) {
      for (;;) {
        const ssize_t r = ::recv(c.fd, buf, n, 0);
        if (r > 0) return r;
        if (r == 0) return -1;
        if (errno == EINTR) continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
      }
    }
    ERR_clear_error();
    const int r = SSL_read(c.ssl, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    if (r > 0) return r;
    const int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ) return 0;
    if (e == SSL_ERROR_WANT_WRITE) {
      set_events(c, EPOLLIN | EPOLLOUT);
      return 0;
    }
    return -1;
  }

  ssize_t write_some(Connection& c, const char* buf, size_t n) {
    if (!c.ssl) {
      for (;;) {
        const ssize_t r = ::send(c.fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
      }
    }
    ERR_clear_error();
    const int r = SSL_write(c.ssl, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    if (r > 0) return r;
    const int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return 0;
    return -1;
  }

  // -------- phases
  void start_reading(Connection& c, bool first) {
    c.phase = Phase::Reading;
    c.prechecked = false;
    c.parser->reset();
    c.deadline = after(first ? limits.header_timeout : limits.idle_timeout);
    c.deadline_status = 0;
    set_events(c, EPOLLIN);
  }

  void queue_answer(Connection& c, const Response& r, bool keep_alive) {
    c.out += serialize(r, keep_alive);
    c.close_after_write = !keep_alive;
    c.phase = Phase::Writing;
    c.deadline = after(limits.write_timeout);
    c.deadline_status = 0;
    flush(c);
  }

  static Response error_response(int status, const std::string& message) {
    Response r;
    r.status = status;
    std::string escaped;
    for (unsigned char ch : printable(message, 300)) {
      if (ch == '"' || ch == '\\') escaped += '\\', escaped += static_cast<char>(ch);
      else if (ch < 0x20) escaped += str("\\u00", "0123456789abcdef"[ch >> 4], "0123456789abcdef"[ch & 15]);
      else escaped += static_cast<char>(ch);
    }
    r.body = str("{\"error\":\"", escaped, "\",\"status\":", status, "}");
    return r;
  }

  void refuse(Connection& c, int status, const std::string& message) {
    n_refused++;
    queue_answer(c, error_response(status, message), false);
  }

  /// Sends what is queued; closes when done and asked to.
  void flush(Connection& c) {
    while (c.out_pos < c.out.size()) {
      const ssize_t w = write_some(c, c.out.data() + c.out_pos, c.out.size() - c.out_pos);
      if (w < 0) {
        close_connection(c);
        return;
      }
      if (w == 0) {
        set_events(c, EPOLLOUT);
        return;
      }
      c.out_pos += static_cast<size_t>(w);
    }
    c.out.clear();
    c.out_pos = 0;
    if (c.phase != Phase::Writing) {
      // An interim answer (100 Continue) went out; keep reading.
      set_events(c, EPOLLIN);
      return;
    }
    if (c.close_after_write || c.peer_closed || stopping) {
      if (!c.ssl && !c.peer_closed && !stopping) {
        ::shutdown(c.fd, SHUT_WR);
        c.phase = Phase::Lingering;
        c.deadline = after(2.0);
        c.discarded = 0;
        set_events(c, EPOLLIN);
        return;
      }
      close_connection(c);
      return;
    }
    start_reading(c, false);
    // A pipelined request may already be buffered: the loop parses it next
    // (not from here, so a long pipeline of refusals cannot recurse deeply).
    if (!c.in.empty()) ready.push_back(c.id);
  }

  void close_connection(Connection& c) {
    const uint64_t id = c.id;
    close_now(c);
    connections.erase(id);
  }

  /// Parses what is buffered and moves the connection on.
  void advance(Connection& c) {
    const uint64_t id = c.id;
    while (connections.count(id) && c.phase == Phase::Reading) {
      auto& p = *c.parser;
      if (!c.in.empty() && p.state() != RequestParser::State::Done) {
        const bool was_started = p.started();
        const size_t k = p.feed(c.in.data(), c.in.size());
        c.in.erase(0, k);
        if (!was_started && p.started()) {
          c.deadline = after(limits.header_timeout);
          c.deadline_status = 408;
        }
      }
      switch (p.state()) {
        case RequestParser::State::Failed:
          refuse(c, p.error_status(), p.error());
          return;
        case RequestParser::State::Headers:
          if (c.peer_closed) close_connection(c);
          return;  // wait for more
        case RequestParser::State::Body: {
          if (!c.prechecked) {
            c.prechecked = true;
            auto& req = p.request();
            req.remote = c.peer;
            std::optional<Response> early;
            try {
              early = precheck ? precheck(req) : std::nullopt;
            } catch (const std::exception& e) {
              early = error_response(500, "internal error");
            }
            if (early) {
              n_requests++;
              // The body was not read: the connection cannot carry another request.
              const bool keep = !req.body_announced() && !early->close && wants_keep_alive(c, req);
              queue_answer(c, *early, keep);
              return;
            }
            p.accept_body();
            if (p.state() == RequestParser::State::Body) {
              c.deadline = after(limits.body_timeout);
              c.deadline_status = 408;
              if (iequals(req.header("Expect"), "100-continue") && req.minor_version == 1) {
                c.out += "HTTP/1.1 100 Continue\r\n\r\n";
                flush(c);
                if (!connections.count(id)) return;
              }
            }
            continue;
          }
          if (c.peer_closed) close_connection(c);
          return;  // wait for more body
        }
        case RequestParser::State::Done: {
          n_requests++;
          c.phase = Phase::Handling;
          c.requests++;
          set_events(c, 0);
          auto& req = c.parser->request();
          req.remote = c.peer;
          const bool keep = wants_keep_alive(c, req);
          std::lock_guard<std::mutex> lock(jobs_mutex);
          if (jobs.size() >= limits.max_queued_requests) {
            n_refused++;
            Response r = error_response(503, "the server is busy; retry later");
            r.headers.push_back({"Retry-After", "1"});
            queue_answer(c, r, false);
            return;
          }
          jobs.push_back(Job{c.id, std::move(req), keep});
          jobs_cv.notify_one();
          return;
        }
      }
    }
  }

  bool wants_keep_alive(const Connection& c, const Request& req) const {
    if (stopping) return false;
    if (c.requests + 1 >= limits.max_requests_per_connection) return false;
    const std::string conn = to_lower(req.header("Connection"));
    if (req.minor_version == 0) return conn == "keep-alive";
    return conn.find("close") == std::string::npos;
  }

  void on_readable(Connection& c) {
    char buf[16384];
    const uint64_t id = c.id;
    for (int rounds = 0; rounds < 64; ++rounds) {
      const ssize_t r = read_some(c, buf, sizeof buf);
      if (r < 0) {
        c.peer_closed = true;
        break;
      }
      if (r == 0) break;
      c.in.append(buf, static_cast<size_t>(r));
      // Bound what one connection buffers beyond the parser's own limits.
      if (c.in.size() > limits.max_header_bytes + limits.max_body_bytes + 65536) break;
    }
    if (c.phase == Phase::Reading) advance(c);
    else if (c.peer_closed && c.phase != Phase::Handling && connections.count(id)) close_connection(c);
  }

  /// Lingering: drop what arrives; close at EOF or after 4 MiB.
  void drain(Connection& c) {
    char buf[16384];
    for (;;) {
      const ssize_t r = read_some(c, buf, sizeof buf);
      if (r == 0) return;
      if (r < 0 || (c.discarded += static_cast<size_t>(r)) > (4u << 20)) {
        close_connection(c);
        return;
      }
    }
  }

  void handshake(Connection& c) {
    ERR_clear_error();
    const int r = SSL_accept(c.ssl);
    if (r == 1) {
      c.phase = Phase::Reading;
      set_events(c, EPOLLIN);
      on_readable(c);  // data may already be decrypted
      return;
    }
    const int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ) set_events(c, EPOLLIN);
    else if (e == SSL_ERROR_WANT_WRITE) set_events(c, EPOLLOUT);
    else close_connection(c);
  }

  void accept_all() {
    for (;;) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN, or out of descriptors: try again on the next event
      }
      char host[NI_MAXHOST] = "?";
      ::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST);
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      n_connections++;
      const std::string peer = host;
      if (stopping || connections.size() >= limits.max_connections || per_peer[peer] >= limits.max_connections_per_client) {
        if (per_peer[peer] == 0) per_peer.erase(peer);
        n_refused++;
        if (!ctx) {
          const auto text = serialize(error_response(503, "too many connections; retry later"), false);
          ssize_t w = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
          (void)w;
        }
        ::close(fd);
        continue;
      }
      auto c = std::make_unique<Connection>();
      c->id = next_id++;
      c->fd = fd;
      c->peer = peer;
      c->parser = std::make_unique<RequestParser>(limits);
      per_peer[peer]++;
      n_open++;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = c->id;
      ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
      c->events = EPOLLIN;
      auto& ref = *c;
      connections[c->id] = std::move(c);
      start_reading(ref, true);
      if (ctx) {
        ref.ssl = SSL_new(ctx);
        SSL_set_fd(ref.ssl, fd);
        ref.phase = Phase::Handshake;
        handshake(ref);
      }
    }
  }

  void collect_done() {
    std::vector<Done> ready;
    {
      std::lock_guard<std::mutex> lock(done_mutex);
      ready.swap(done);
    }
    for (auto& d : ready) {
      auto it = connections.find(d.connection);
      if (it == connections.end()) continue;
      auto& c = *it->second;
      queue_answer(c, d.response, d.keep_alive && !d.response.close && !c.peer_closed && !stopping);
    }
  }

  void expire() {
    const auto now = Clock::now();
    std::vector<uint64_t> late;
    for (auto& kv : connections) {
      auto& c = *kv.second;
      if (c.phase == Phase::Handling) continue;
      if (now >= c.deadline) late.push_back(kv.first);
    }
    for (auto id : late) {
      auto it = connections.find(id);
      if (it == connections.end()) continue;
      auto& c = *it->second;
      if (c.phase == Phase::Lingering) {
        close_connection(c);
        continue;
      }
      n_timed_out++;
      if (c.phase == Phase::Reading && c.deadline_status == 408) {
        // One try to say why, then close whatever happens.
        const auto text = serialize(error_response(408, "the request took too long to arrive"), false);
        if (!c.ssl) {
          ssize_t w = ::send(c.fd, text.data(), text.size(), MSG_NOSIGNAL);
          (void)w;
        }
      }
      close_connection(c);
    }
  }

  void worker_loop() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(jobs_mutex);
        jobs_cv.wait(lock, [&] { return workers_quit || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
        ++busy;
      }
      Response r;
      try {
        r = handler(job.request);
      } catch (const std::exception&) {
        r = error_response(500, "internal error");
      }
      {
        std::lock_guard<std::mutex> lock(done_mutex);
        done.push_back(Done{job.connection, std::move(r), job.keep_alive});
      }
      {
        std::lock_guard<std::mutex> lock(jobs_mutex);
        --busy;
      }
      wake();
    }
  }

  bool in_flight() {
    {
      std::lock_guard<std::mutex> lock(jobs_mutex);
      if (!jobs.empty() || busy) return true;
    }
    {
      std::lock_guard<std::mutex> lock(done_mutex);
      if (!done.empty()) return true;
    }
    for (auto& kv : connections)
      if (kv.second->phase == Phase::Handling || kv.second->phase == Phase::Writing) return true;
    return false;
  }
};

Server::Server(Limits limits, Precheck precheck, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  impl_->precheck = std::move(precheck);
  impl_->handler = std::move(handler);
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  impl_->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (impl_->wake_fd < 0 || impl_->epoll_fd < 0) throw Error(str("cannot create the event loop: ", std::strerror(errno)));
}

Server::~Server() {
  stop();
  {
    std::lock_guard<std::mutex> lock(impl_->jobs_mutex);
    impl_->workers_quit = true;
  }
  impl_->jobs_cv.notify_all();
  for (auto& t : impl_->workers)
    if (t.joinable()) t.join();
}

void Server::use_tls(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw Error("cannot create a TLS context: " + ssl_error_text());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    SSL_CTX_free(ctx);
    throw InputError(str("serve: cannot use the TLS certificate '", cert_file, "': ", ssl_error_text()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    SSL_CTX_free(ctx);
    throw InputError(str("serve: cannot use the TLS key '", key_file, "' with '", cert_file, "': ", ssl_error_text()));
  }
  if (impl_->ctx) SSL_CTX_free(impl_->ctx);
  impl_->ctx = ctx;
}

bool Server::tls() const { return impl_->ctx != nullptr; }

int Server::listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &res) != 0 || !res)
    throw InputError(str("serve: cannot resolve the host '", host, "'"));
  int fd = -1;
  std::string why = "no address";
  for (auto* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 512) == 0) break;
    why = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) throw InputError(str("serve: cannot listen on ", host, ":", port, " (", why, ")"));
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int bound = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                               : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  impl_->listen_fd = fd;
  return bound;
}

void Server::run() {
  auto& s = *impl_;
  if (s.listen_fd < 0) throw Error("Server::run: listen() first");
  for (int i = 0; i < std::max(1, s.limits.workers); ++i) s.workers.emplace_back([&s] { s.worker_loop(); });
  constexpr uint64_t kListen = ~uint64_t(0), kWake = ~uint64_t(0) - 1;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListen;
  ::epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.listen_fd, &ev);
  ev.data.u64 = kWake;
  ::epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.wake_fd, &ev);

  bool listening = true;
  Clock::time_point drain_until{};
  epoll_event events[256];
  for (;;) {
    if (s.stopping && listening) {
      listening = false;
      ::epoll_ctl(s.epoll_fd, EPOLL_CTL_DEL, s.listen_fd, nullptr);
      ::close(s.listen_fd);
      s.listen_fd = -1;
      drain_until = after(s.limits.drain_timeout);
      // Connections between requests or partway through one are closed now.
      std::vector<uint64_t> idle;
      for (auto& kv : s.connections)
        if (kv.second->phase == Phase::Reading || kv.second->phase == Phase::Handshake ||
            kv.second->phase == Phase::Lingering)
          idle.push_back(kv.first);
      for (auto id : idle) s.close_connection(*s.connections.at(id));
    }
    if (!listening && (!s.in_flight() || Clock::now() >= drain_until)) break;
    const int n = ::epoll_wait(s.epoll_fd, events, 256, s.ready.empty() ? 200 : 0);
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == kListen) {
        s.accept_all();
        continue;
      }
      if (id == kWake) {
        uint64_t v;
        while (::read(s.wake_fd, &v, sizeof v) > 0) {
        }
        continue;
      }
      auto it = s.connections.find(id);
      if (it == s.connections.end()) continue;
      auto& c = *it->second;
      const uint32_t e = events[i].events;
      if (c.phase == Phase::Handshake) {
        s.handshake(c);
        continue;
      }
      if (c.phase == Phase::Lingering) {
        s.drain(c);
        continue;
      }
      if ((e & (EPOLLERR | EPOLLHUP)) && !(e & EPOLLIN)) {
        s.close_connection(c);
        continue;
      }
      if (c.phase == Phase::Writing || !c.out.empty()) {
        if (e & (EPOLLOUT | EPOLLIN)) s.flush(c);
        continue;
      }
      if (e & (EPOLLIN | EPOLLOUT)) {
        if (c.events & EPOLLOUT) s.set_events(c, EPOLLIN);  // a TLS read that wanted to write
        s.on_readable(c);
      }
    }
    for (size_t k = 0; k < s.ready.size(); ++k) {
      auto it = s.connections.find(s.ready[k]);
      if (it != s.connections.end() && it->second->phase == Phase::Reading) s.advance(*it->second);
    }
    s.ready.clear();
    s.collect_done();
    s.expire();
    if (s.stopping && listening) continue;
  }
  // Whatever is still open after the drain is closed.
  std::vector<uint64_t> rest;
  for (auto& kv : s.connections) rest.push_back(kv.first);
  for (auto id : rest) s.close_connection(*s.connections.at(id));
  {
    std::lock_guard<std::mutex> lock(s.jobs_mutex);
    s.workers_quit = true;
    s.jobs.clear();
  }
  s.jobs_cv.notify_all();
  for (auto& t : s.workers)
    if (t.joinable()) t.join();
  s.workers.clear();
}

void Server::stop() {
  impl_->stopping = true;
  impl_->wake();
}

Server::Counters Server::counters() const {
  return {impl_->n_connections.load(), impl_->n_requests.load(), impl_->n_refused.load(), impl_->n_timed_out.load()};
}

size_t Server::open_connections() const { return impl_->n_open.load(); }

}  // namespace http
}  // namespace sozai
