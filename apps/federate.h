#pragma once
/// `sozai federate serve`: a federation's coordinator over HTTP
/// (core/federated/coordinator.h's FederationService) on the hardened
/// server and store of `sozai serve`: bearer tokens (admin; a party token
/// per party), TLS, limits, SQLite durability.

#include "apps/serve.h"

#include <string>

namespace sozai {
namespace cli {

/// Runs until SIGINT or SIGTERM; returns the exit code. With check:
/// verifies the store offline.
int federate_serve(const ServeOptions& options);

/// The OpenAPI 3 document of the coordinator.
std::string federate_openapi_json();

}  // namespace cli
}  // namespace sozai
