#pragma once
/// `sozai serve`: the smart-lab HTTP/JSON service over core/lab's
/// LabService (routes, status codes, OpenAPI document, dashboard) on the
/// hardened server of apps/http_server.h.

#include "apps/http_server.h"
#include "core/lab/lab_service.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace sozai {
namespace cli {

struct ServeOptions {
  std::string db;
  std::string host = "127.0.0.1";
  int port = 8080;              ///< 0: any free port (printed on stderr)
  std::string tls_cert, tls_key;
  int threads = 16;             ///< workers that run requests (reading and writing needs none)
  int64_t max_body_bytes = 16 << 20;
  double header_timeout = 10.0; ///< seconds for a request's headers to arrive
  double body_timeout = 60.0;   ///< seconds for its body
  double idle_timeout = 60.0;   ///< seconds a kept-alive connection may idle
  int64_t max_connections_per_client = 64;
  LabLimits limits;             ///< per campaign and per request
  bool check = false;           ///< --check: verify the store offline and exit
};

/// Runs until SIGINT or SIGTERM (then finishes the requests in flight);
/// returns the exit code. With check: verifies the store, prints the
/// report, returns 0 when it is sound and 1 otherwise.
int serve(const ServeOptions& options);

// What every sozai HTTP service shares (`sozai serve`, `sozai federate serve`).
http::Response json_response(int status, const nlohmann::json& body);
/// {"error": message (printable, at most 500 bytes), "status": status}.
http::Response error_response(int status, const std::string& message);
/// Idempotency keys are 1-200 visible ASCII characters.
bool valid_key(const std::string& key);
/// Content-Type application/json (parameters ignored).
bool is_json_type(const std::string& content_type);
/// A route as matched by a service's router, for precheck_route.
struct RouteMatch {
  bool found = false;
  int status = 404;   ///< when not found: 404, or 405 (the path has other methods)
  std::string allow;  ///< the path's methods (405)
  std::string role;   ///< the least role the route needs
  bool mutating = false;
};
/// Checks before a body is read, for /healthz, /openapi.json and static
/// files: GET only, no body.
std::optional<http::Response> precheck_static(const http::Request& req);
/// Checks before a body is read: the route (404, 405 with Allow), the
/// token's role when it can be told without waiting (allows(have, need)),
/// no body on a GET, JSON bodies only, a well-formed Idempotency-Key.
std::optional<http::Response> precheck_route(const http::Request& req, LabService& lab, const RouteMatch& m,
                                             const std::function<bool(const std::string&, const std::string&)>& allows);
/// /healthz: {status: ok, version}, or 503 with why the store must not be served.
http::Response health_response(LabService& lab);
/// Inside a catch (...): the answer for the exception in flight - LabError
/// its status, InputError 400, StorageError 503, others 500 with the details
/// in the log (prefixed by `name`) and not in the answer.
http::Response error_for_current_exception(const char* name, const http::Request& req);
/// InputError naming `name` for a missing --db, half a TLS pair, threads
/// outside [1, 1024] or a body limit under 1024 bytes.
void check_serve_options(const ServeOptions& o, const char* name);
/// First start of a store: the admin token from SOZAI_ADMIN_TOKEN, or a new
/// one written beside the store (readable by its owner only).
void bootstrap_admin(LabService& service, const std::string& db, const char* name);
/// Serves until SIGINT or SIGTERM with o's limits, TLS, host and port, then
/// finishes the requests in flight; returns 0.
int run_server(const ServeOptions& o, const char* name, const http::Server::Precheck& precheck,
               const http::Server::Handler& handle, const std::string& what);

/// An OpenAPI 3.0.3 document: info, the paths, bearer security and the Error schema.
std::string openapi_document(const std::string& title, const std::string& description, const nlohmann::json& paths);

/// The OpenAPI 3 document of the service (every route it serves).
std::string openapi_json();

}  // namespace cli
}  // namespace sozai
