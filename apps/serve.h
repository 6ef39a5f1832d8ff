#pragma once
/// `sozai serve`: the smart-lab HTTP/JSON service over core/lab's
/// LabService (routes, status codes, OpenAPI document, dashboard).

#include <cstdint>
#include <string>

namespace sozai {
namespace cli {

struct ServeOptions {
  std::string db;
  std::string host = "127.0.0.1";
  int port = 8080;              ///< 0: any free port (printed on stderr)
  std::string tls_cert, tls_key;
  int threads = 32;             ///< worker threads (one per open connection)
  int64_t max_body_bytes = 16 << 20;
};

/// Runs until SIGINT or SIGTERM; returns the exit code.
int serve(const ServeOptions& options);

/// The OpenAPI 3 document of the service (every route it serves).
std::string openapi_json();

}  // namespace cli
}  // namespace sozai
