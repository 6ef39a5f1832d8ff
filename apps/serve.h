#pragma once
/// `sozai serve`: the smart-lab HTTP/JSON service over core/lab's
/// LabService (routes, status codes, OpenAPI document, dashboard) on the
/// hardened server of apps/http_server.h.

#include "core/lab/lab_service.h"

#include <cstdint>
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

/// The OpenAPI 3 document of the service (every route it serves).
std::string openapi_json();

}  // namespace cli
}  // namespace sozai
