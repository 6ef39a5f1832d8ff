#pragma once
/// The HTTP/1.1 server under `sozai serve`, written for a network where
/// someone is hostile (RFC 9112 framing, strict):
/// - one event loop (epoll) reads every request and writes every answer;
///   handlers run on a worker pool only once a whole request is in, so a
///   client that sends its headers a byte at a time (slowloris) or never
///   reads its answer holds no worker, and a deadline closes it;
/// - the headers are checked before any body byte is read (`Precheck`:
///   route, token, content type), and the body limit holds for chunked
///   bodies as for Content-Length ones;
/// - framing that two parsers could read two ways is refused: Content-Length
///   with Transfer-Encoding, differing Content-Lengths, codings other than
///   chunked, obsolete line folding, bare LF, space before the colon, control
///   bytes; the path and query must percent-decode to UTF-8;
/// - an answer is written in one send with TCP_NODELAY (no Nagle delay on
///   kept-alive connections), with nosniff / no-store / frame-denying
///   headers on every answer;
/// - stop() is async-signal-safe: the loop stops accepting, finishes the
///   requests in flight (bounded) and returns.
/// TLS (OpenSSL, TLS 1.2+) when a certificate and key are given.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sozai {
namespace http {

struct Header {
  std::string name, value;
};

struct Request {
  std::string method;
  std::string target;  ///< as sent: "/v1/campaigns/c1?state=leased"
  std::string path;    ///< percent-decoded, valid UTF-8
  std::vector<std::pair<std::string, std::string>> query;  ///< percent-decoded, valid UTF-8
  std::vector<Header> headers;
  std::string body;    ///< the payload (chunked bodies joined)
  std::string remote;  ///< peer address
  int minor_version = 1;
  bool chunked = false;
  int64_t content_length = -1;  ///< -1: none announced

  /// The value of the first header of that name (case-insensitive); "" if none.
  std::string header(const std::string& name) const;
  bool has_header(const std::string& name) const;
  /// The first query value of that name; "" if none.
  std::string query_value(const std::string& name) const;
  bool has_query(const std::string& name) const;
  /// Whether a body follows the headers (Content-Length > 0 or chunked).
  bool body_announced() const { return chunked || content_length > 0; }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<Header> headers;  ///< beyond the ones every answer gets
  bool close = false;           ///< close the connection after this answer
};

/// What one client may take. Every limit has a safe default.
struct Limits {
  size_t max_header_bytes = 32 * 1024;  ///< request line and headers (431 beyond)
  size_t max_header_count = 100;
  size_t max_body_bytes = 16u << 20;    ///< decoded body (413 beyond)
  double header_timeout = 10.0;  ///< seconds from a request's first byte to the end of its headers (408)
  double body_timeout = 60.0;    ///< seconds to receive the body once the headers are in (408)
  double idle_timeout = 60.0;    ///< seconds a kept-alive connection may wait for its next request
  double write_timeout = 60.0;   ///< seconds to deliver an answer
  size_t max_connections = 1024;
  size_t max_connections_per_client = 64;  ///< per peer address (503 beyond)
  size_t max_requests_per_connection = 10000;
  size_t max_queued_requests = 1024;  ///< complete requests waiting for a worker (503 beyond)
  int workers = 16;
  double drain_timeout = 30.0;  ///< stop(): seconds to finish the requests in flight
};

/// Incremental request parser: feed bytes as they arrive. It stops at the
/// end of the headers (state Body) so the caller can look at them before
/// reading any of the body, and at the end of a request (Done), leaving
/// what follows for the next one.
class RequestParser {
 public:
  enum class State { Headers, Body, Done, Failed };
  explicit RequestParser(const Limits& limits);
  /// Consumes from data; returns how many bytes were used.
  size_t feed(const char* data, size_t n);
  State state() const { return state_; }
  /// After the headers: read the body (feed then continues with it).
  void accept_body();
  bool body_accepted() const { return body_accepted_; }
  /// Whether any byte of the current request has arrived.
  bool started() const { return started_; }
  Request& request() { return request_; }
  const Request& request() const { return request_; }
  /// Failed: the status to answer (400, 413, 431, 501, 505) and why.
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }
  /// Ready for the next request on the same connection.
  void reset();

 private:
  bool fail(int status, std::string why);
  bool parse_head();  ///< request line and headers in head_
  bool body_bytes(const char* data, size_t n, size_t& used);

  Limits limits_;  // a copy: parsers outlive the limits they were made with
  State state_ = State::Headers;
  bool started_ = false, body_accepted_ = false;
  std::string head_;  ///< header bytes so far
  Request request_;
  int error_status_ = 0;
  std::string error_;
  // chunked decoding
  enum class Chunk { Size, Data, DataEnd, Trailer } chunk_ = Chunk::Size;
  std::string line_;
  uint64_t chunk_left_ = 0;
  size_t trailer_bytes_ = 0;
};

/// The status line's reason phrase ("Not Found").
const char* reason_phrase(int status);
/// The bytes of an answer: status line, the headers every answer gets
/// (Content-Type, Content-Length, Connection, X-Content-Type-Options,
/// Cache-Control, X-Frame-Options, Referrer-Policy, and a
/// Content-Security-Policy unless the response sets its own), the
/// response's own headers and the body.
std::string serialize(const Response& response, bool keep_alive);

/// Percent-decodes; nullopt for a malformed escape, a NUL byte or text that
/// is not UTF-8. plus_is_space: query strings.
std::optional<std::string> percent_decode(const std::string& text, bool plus_is_space);

class Server {
 public:
  /// Called on the event loop once a request's headers are in, before its
  /// body is read: a response refuses the request there (its body is never
  /// read; the connection closes when one was announced). Must be quick.
  using Precheck = std::function<std::optional<Response>(const Request&)>;
  /// Called on a worker with the whole request.
  using Handler = std::function<Response(const Request&)>;

  Server(Limits limits, Precheck precheck, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Serve TLS with this PEM certificate (chain) and key; InputError naming
  /// the file when they cannot be used.
  void use_tls(const std::string& cert_file, const std::string& key_file);
  bool tls() const;
  /// Binds and listens; port 0 picks a free one. Returns the port;
  /// InputError when it cannot.
  int listen(const std::string& host, int port);
  /// Serves until stop(); then finishes the requests in flight (up to
  /// drain_timeout) and returns.
  void run();
  /// Thread-safe and async-signal-safe.
  void stop();

  struct Counters {
    uint64_t connections = 0, requests = 0, refused = 0, timed_out = 0;
  };
  Counters counters() const;
  /// Connections open now.
  size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace http
}  // namespace sozai
