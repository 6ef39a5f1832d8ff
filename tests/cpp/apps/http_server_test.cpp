// The lab service's HTTP server: strict framing (each refusal is an attack
// that worked on the earlier server or a known smuggling trick), limits
// before any body byte is read, slow clients that hold no worker, pipelining,
// a clean stop, and a bounded fuzzing run of structured mutations.
#include "apps/http_server.h"
#include "common/json.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace sozai;
using http::RequestParser;

namespace {

/// Feeds text to a parser the way a connection would (accepting the body
/// after the headers), in pieces of `step` bytes.
RequestParser::State parse(RequestParser& p, const std::string& text, size_t step = 1 << 20, size_t* used = nullptr) {
  size_t pos = 0;
  for (;;) {
    if (p.state() == RequestParser::State::Body && !p.body_accepted()) {
      p.accept_body();
      continue;
    }
    if (p.state() == RequestParser::State::Failed || p.state() == RequestParser::State::Done || pos >= text.size())
      break;
    const size_t n = std::min(step, text.size() - pos);
    pos += p.feed(text.data() + pos, n);
  }
  if (used) *used = pos;
  return p.state();
}

int status_of(const std::string& text, http::Limits limits = {}) {
  RequestParser p(limits);
  const auto st = parse(p, text);
  if (st == RequestParser::State::Failed) return p.error_status();
  return st == RequestParser::State::Done ? 200 : 0;
}

const std::string kGet = "GET /v1/campaigns HTTP/1.1\r\nHost: x\r\n\r\n";

std::string post(const std::string& body, const std::string& extra = "") {
  return "POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

}  // namespace

TEST_CASE("HTTP parser: well-formed requests", "[http]") {
  {
    RequestParser p(http::Limits{});
    REQUIRE(parse(p, "GET /v1/campaigns/c1/experiments?state=leased&after=3&x=a%20b+c HTTP/1.1\r\nHost: x\r\n"
                     "X-Test:  padded value \t\r\n\r\n") == RequestParser::State::Done);
    CHECK(p.request().method == "GET");
    CHECK(p.request().path == "/v1/campaigns/c1/experiments");
    CHECK(p.request().query_value("state") == "leased");
    CHECK(p.request().query_value("x") == "a b c");
    CHECK(p.request().header("x-test") == "padded value");
    CHECK(p.request().header("HOST") == "x");
  }
  {
    RequestParser p(http::Limits{});
    REQUIRE(parse(p, post("{\"a\": 1}")) == RequestParser::State::Done);
    CHECK(p.request().body == "{\"a\": 1}");
  }
  {
    // Chunked, with a chunk extension and a trailer, one byte at a time.
    const std::string text = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "4;ext=1\r\n{\"a\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\nX-Trailer: 1\r\n\r\n";
    RequestParser p(http::Limits{});
    REQUIRE(parse(p, text, 1) == RequestParser::State::Done);
    CHECK(p.request().body == "{\"a\": 1}");
    CHECK(p.request().chunked);
  }
  {
    // Two pipelined requests: the first stops where the second begins.
    RequestParser p(http::Limits{});
    const std::string two = post("{}") + kGet;
    size_t used = 0;
    REQUIRE(parse(p, two, 1 << 20, &used) == RequestParser::State::Done);
    CHECK(two.substr(used) == kGet);
    p.reset();
    REQUIRE(parse(p, two.substr(used)) == RequestParser::State::Done);
    CHECK(p.request().method == "GET");
  }
  {
    // The headers are looked at before any body byte is read.
    RequestParser p(http::Limits{});
    const auto text = post("{\"secret\": 1}");
    p.feed(text.data(), text.size());
    REQUIRE(p.state() == RequestParser::State::Body);
    CHECK(p.request().body.empty());
    CHECK(p.request().body_announced());
  }
}

TEST_CASE("HTTP parser: refuses ambiguous framing and malformed requests", "[http]") {
  http::Limits small;
  small.max_body_bytes = 100;
  small.max_header_bytes = 256;
  struct Case {
    const char* what;
    std::string text;
    int status;
  };
  const std::vector<Case> cases = {
      {"Content-Length with Transfer-Encoding",
       "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"differing Content-Lengths", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
       400},
      {"Content-Length not a number", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400},
      {"a coding other than chunked", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"two Transfer-Encoding headers",
       "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"bare LF", "GET /x HTTP/1.1\nHost: x\n\n", 400},
      {"bare CR", "GET /x HTTP/1.1\rHost: x\r\n\r\n", 400},
      {"obsolete line folding", "GET /x HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  2\r\n\r\n", 400},
      {"space before the colon", "GET /x HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n", 400},
      {"a control byte in a value", std::string("GET /x HTTP/1.1\r\nHost: x\r\nX-A: a\x01") + "b\r\n\r\n", 400},
      {"no Host", "GET /x HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"HTTP/2.0", "GET /x HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"absolute-form target", "GET http://x/y HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"raw non-ASCII in the target", "GET /v1/campaigns/\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"%FF in the path", "GET /v1/campaigns/%FF HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"%FF in the query", "GET /v1/campaigns/c/experiments?state=%FF HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"%00 in the path", "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"a broken escape", "GET /a%4 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"headers too large", "GET /x HTTP/1.1\r\nHost: x\r\nX-A: " + std::string(300, 'a') + "\r\n\r\n", 431},
      {"Content-Length over the limit", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413},
      {"chunked body over the limit",
       "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'a') + "\r\n40\r\n" +
           std::string(64, 'a') + "\r\n0\r\n\r\n",
       413},
      {"a huge chunk size", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
       400},
      {"a chunk without its CRLF",
       "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400},
      {"chunked in HTTP/1.0", "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"a malformed request line", "GET  /x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    CHECK(status_of(c.text, small) == c.status);
    // The same answer when the bytes arrive one at a time.
    RequestParser p(small);
    const auto st = parse(p, c.text, 1);
    CHECK(st == RequestParser::State::Failed);
    CHECK(p.error_status() == c.status);
  }
}

TEST_CASE("HTTP responses carry the protective headers", "[http]") {
  http::Response r;
  r.body = "{}";
  const auto text = http::serialize(r, true);
  CHECK(text.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  for (const char* h : {"Content-Length: 2\r\n", "Connection: keep-alive\r\n", "X-Content-Type-Options: nosniff\r\n",
                        "X-Frame-Options: DENY\r\n", "Cache-Control: no-store\r\n",
                        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"})
    CHECK(text.find(h) != std::string::npos);
  r.headers.push_back({"Content-Security-Policy", "default-src 'self'"});
  const auto own = http::serialize(r, false);
  CHECK(own.find("default-src 'none'") == std::string::npos);
  CHECK(own.find("Connection: close\r\n") != std::string::npos);
}

// ---------------------------------------------------------------- on a socket

namespace {

struct Running {
  explicit Running(http::Limits limits, http::Server::Precheck pre = nullptr, http::Server::Handler h = nullptr)
      : server(limits, pre ? pre : [](const http::Request&) { return std::optional<http::Response>(); },
               h ? h : [](const http::Request& r) {
                 http::Response out;
                 out.body = json_io::dump_safe({{"path", r.path}, {"body", r.body}});
                 return out;
               }) {
    port = server.listen("127.0.0.1", 0);
    thread = std::thread([this] { server.run(); });
  }
  ~Running() {
    server.stop();
    thread.join();
  }
  http::Server server;
  int port = 0;
  std::thread thread;
};

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

void send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

/// Reads until `responses` complete answers arrived, the peer closed, or
/// timeout seconds passed.
std::string read_answers(int fd, int responses = 1, double timeout = 10.0) {
  std::string in;
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  auto complete = [&] {
    size_t pos = 0;
    for (int k = 0; k < responses; ++k) {
      const auto end = in.find("\r\n\r\n", pos);
      if (end == std::string::npos) return false;
      const auto cl = in.find("Content-Length: ", pos);
      if (cl == std::string::npos || cl > end) return false;
      const size_t len = std::stoul(in.substr(cl + 16));
      if (in.size() < end + 4 + len) return false;
      pos = end + 4 + len;
    }
    return true;
  };
  while (!complete() && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[65536];
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    in.append(buf, static_cast<size_t>(r));
  }
  return in;
}

/// Whether the server closed the connection (EOF within timeout seconds).
bool closed_by_server(int fd, double timeout = 5.0) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return true;
  }
  return false;
}

int status_in(const std::string& answer) {
  return answer.size() >= 12 && answer.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(answer.substr(9, 3)) : 0;
}

}  // namespace

TEST_CASE("HTTP server: keep-alive, pipelining and a refusal before the body", "[http]") {
  std::atomic<int> handled{0};
  Running s(
      http::Limits{},
      [](const http::Request& r) -> std::optional<http::Response> {
        if (r.header("Authorization") != "Bearer ok") {
          http::Response no;
          no.status = 401;
          no.body = "{\"error\":\"missing bearer token\"}";
          return no;
        }
        return std::nullopt;
      },
      [&](const http::Request& r) {
        ++handled;
        http::Response out;
        out.body = json_io::dump_safe({{"path", r.path}});
        return out;
      });
  const std::string auth = "Authorization: Bearer ok\r\n";
  {
    // Three requests on one connection, the last two pipelined.
    const int fd = connect_to(s.port);
    send_all(fd, "GET /a HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n");
    CHECK(status_in(read_answers(fd)) == 200);
    send_all(fd, "GET /b HTTP/1.1\r\nHost: x\r\n" + auth + "\r\nGET /c HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n");
    const auto two = read_answers(fd, 2);
    CHECK(two.find("\"/b\"") != std::string::npos);
    CHECK(two.find("\"/c\"") != std::string::npos);
    CHECK(two.find("\"/b\"") < two.find("\"/c\""));
    ::close(fd);
  }
  {
    // No token and a 16 MiB body announced: refused from the headers alone,
    // the body never read, the connection closed.
    const int before = handled;
    const int fd = connect_to(s.port);
    send_all(fd, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "1000000\r\n");
    const auto a = read_answers(fd);
    CHECK(status_in(a) == 401);
    CHECK(a.find("Connection: close") != std::string::npos);
    CHECK(closed_by_server(fd));
    CHECK(handled == before);
    ::close(fd);
  }
}

TEST_CASE("HTTP server: slow clients hold no worker and are cut off", "[http]") {
  http::Limits limits;
  limits.workers = 2;
  limits.header_timeout = 1.0;
  limits.max_connections_per_client = 200;
  Running s(limits);
  // 50 clients send one header line every 200 ms (slowloris), more than
  // twenty times the workers.
  std::vector<int> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(connect_to(s.port));
    send_all(slow.back(), "GET /slow HTTP/1.1\r\nHost: x\r\n");
  }
  for (int round = 0; round < 3; ++round) {
    for (int fd : slow) send_all(fd, "X-Drip: 1\r\n");
    // Everyone else is still served while they drip.
    const int fd = connect_to(s.port);
    send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(status_in(read_answers(fd, 1, 5.0)) == 200);
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // Past the header deadline every slow client got 408 and was closed.
  int cut = 0;
  for (int fd : slow) {
    const auto a = read_answers(fd, 1, 5.0);
    if (status_in(a) == 408 || closed_by_server(fd, 1.0)) ++cut;
    ::close(fd);
  }
  CHECK(cut == 50);
  CHECK(s.server.counters().timed_out >= 50);
}

TEST_CASE("HTTP server: a client over its connection limit is refused, others are not", "[http]") {
  http::Limits limits;
  limits.max_connections_per_client = 4;
  Running s(limits);
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) fds.push_back(connect_to(s.port));
  const int extra = connect_to(s.port);
  CHECK(status_in(read_answers(extra, 1, 5.0)) == 503);
  ::close(extra);
  for (int fd : fds) ::close(fd);
}

TEST_CASE("HTTP server: stop() finishes the request in flight", "[http]") {
  std::atomic<bool> started{false};
  auto server = std::make_unique<Running>(http::Limits{}, nullptr, [&](const http::Request&) {
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    http::Response r;
    r.body = "{\"done\":true}";
    return r;
  });
  const int fd = connect_to(server->port);
  send_all(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server->server.stop();
  const auto a = read_answers(fd);
  CHECK(status_in(a) == 200);
  CHECK(a.find("{\"done\":true}") != std::string::npos);
  CHECK(a.find("Connection: close") != std::string::npos);
  server.reset();  // run() returned
  ::close(fd);
}

TEST_CASE("HTTP server: fuzzing with structured mutations never gets a 5xx or a hang", "[http][fuzz]") {
  // Mutations of valid requests (framing headers, lengths, chunk sizes,
  // bytes flipped, inserted or cut, non-UTF-8, deep JSON), sent for a
  // bounded time; every request gets a well-formed answer below 500 or a
  // closed connection, and the server keeps answering.
  http::Limits limits;
  limits.max_body_bytes = 1 << 16;
  limits.header_timeout = 0.5;
  limits.body_timeout = 0.5;
  Running s(limits, nullptr, [](const http::Request& r) {
    http::Response out;
    try {
      const auto j = r.body.empty() ? nlohmann::json::object() : json_io::parse_untrusted(r.body, "the body");
      out.body = json_io::dump_safe({{"keys", j.is_object() ? j.size() : 0}, {"path", r.path}});
    } catch (const InputError& e) {
      out.status = 400;
      out.body = json_io::dump_safe({{"error", e.what()}});
    }
    return out;
  });
  std::mt19937 rng(20261203);
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  const std::vector<std::string> bodies = {"{\"count\": 2, \"controller\": \"robot-1\"}",
                                           "{\"values\": {\"y\": 0.5}, \"note\": \"ok\"}",
                                           std::string(200, '[') + std::string(200, ']'),
                                           "{\"a\": 1, \"a\": 2}",
                                           "{\"n\": \"\xff\xfe\"}",
                                           "{\"k\": \"" + std::string(1000, 'x') + "\"}"};
  auto valid = [&](const std::string& body, bool chunked) {
    std::string h = "POST /v1/campaigns/c1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    if (!chunked) return h + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    std::string out = h + "Transfer-Encoding: chunked\r\n\r\n";
    size_t off = 0;
    while (off < body.size()) {
      const size_t n = std::min<size_t>(1 + pick(40), body.size() - off);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%zx\r\n", n);
      out += buf + body.substr(off, n) + "\r\n";
      off += n;
    }
    return out + "0\r\n\r\n";
  };
  const std::vector<std::string> inserts = {"\r\n", "\n", "\r", ":", " ", "\x00", "\xff", "%FF", "%",
                                            "Transfer-Encoding: chunked\r\n", "Content-Length: 9999999\r\n",
                                            "Content-Length: -1\r\n", "Host: y\r\n", " HTTP/1.1", "0\r\n\r\n"};
  const auto t0 = std::chrono::steady_clock::now();
  int sent = 0, answered = 0, closed = 0, bad = 0;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(8) && sent < 3000) {
    std::string req = valid(bodies[pick(bodies.size())], pick(2) == 0);
    const int mutations = 1 + static_cast<int>(pick(4));
    for (int m = 0; m < mutations; ++m) {
      const size_t at = pick(req.size() + 1);
      switch (pick(5)) {
        case 0: req.insert(at, inserts[pick(inserts.size())]); break;
        case 1: if (at < req.size()) req[at] = static_cast<char>(rng()); break;
        case 2: req.erase(at, 1 + pick(8)); break;
        case 3: req = req.substr(0, at); break;  // cut short
        case 4: req.insert(at, req.substr(pick(req.size()), pick(30))); break;
      }
    }
    const int fd = connect_to(s.port);
    send_all(fd, req);
    ::shutdown(fd, SHUT_WR);
    const auto a = read_answers(fd, 1, 3.0);
    ::close(fd);
    ++sent;
    if (a.empty()) {
      ++closed;
      continue;
    }
    // 501 (a transfer coding other than chunked) and 505 (not HTTP/1.x) are
    // the protocol's own refusals (RFC 9112 6.1, 2.5), not server errors.
    const int st = status_in(a);
    const bool refused = st == 501 || st == 505;
    if ((st >= 200 && st < 500) || refused) ++answered;
    else ++bad;
    INFO("request: " << json_io::dump_safe(req) << "\nanswer: " << json_io::dump_safe(a.substr(0, 300)));
    REQUIRE(st >= 200);
    REQUIRE((st < 500 || refused));
  }
  WARN("fuzzing: " << sent << " requests, " << answered << " answered (4xx, or 501/505), " << closed
                   << " closed without an answer, " << bad << " others");
  CHECK(sent >= 200);
  CHECK(bad == 0);
  // Still serving.
  const int fd = connect_to(s.port);
  send_all(fd, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(status_in(read_answers(fd)) == 200);
  ::close(fd);
}
