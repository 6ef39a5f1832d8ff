// `sozai federate serve`: HTTP routes over FederationService. The route
// table (core/federated/coordinator.h) drives the checks made before a body
// is read and the OpenAPI document; FederationService::handle routes.
#include "apps/federate.h"

#include "apps/http_server.h"
#include "common/build_info.h"
#include "common/json.h"
#include "common/strings.h"
#include "core/federated/coordinator.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <regex>

namespace sozai {
namespace cli {

namespace {

using nlohmann::json;
using federated::FederationService;
using federated::federation_routes;

}  // namespace

std::string federate_openapi_json() {
  json paths = json::object();
  const json ok{{"description", "success"}, {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  const json error{{"description", "error"},
                   {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  for (const auto& r : federation_routes()) {
    std::string m = r.method;
    std::transform(m.begin(), m.end(), m.begin(), ::tolower);
    json params = json::array();
    std::smatch mt;
    std::string rest = r.path;
    while (std::regex_search(rest, mt, std::regex(R"(\{([a-z]+)\})"))) {
      params.push_back({{"name", mt[1].str()}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
      rest = mt.suffix();
    }
    json op{{"summary", r.summary}, {"operationId", std::string(r.method) + " " + r.path},
            {"security", json::array({{{"bearer", json::array()}}})}, {"x-sozai-role", r.role},
            {"parameters", params}};
    if (r.mutating)
      op["requestBody"] = {{"required", true}, {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    json responses{{"200", ok}};
    if (std::string(r.path).find("/steps/") != std::string::npos && m == "get") responses["202"] = ok;
    if (m == "post" && std::string(r.path).find("/steps/") == std::string::npos) responses = {{"201", ok}};
    for (const char* code : {"400", "401", "403", "404", "405", "408", "409", "413", "415", "503"}) responses[code] = error;
    op["responses"] = responses;
    paths[r.path][m] = op;
  }
  const json plain{{"description", "success"}, {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  paths["/healthz"]["get"] = {{"summary", "Liveness: {status: ok, version}; 503 when the store failed a check"},
                              {"operationId", "/healthz"}, {"security", json::array()},
                              {"responses", {{"200", plain}, {"503", plain}}}};
  paths["/openapi.json"]["get"] = {{"summary", "This document"}, {"operationId", "/openapi.json"},
                                   {"security", json::array()}, {"responses", {{"200", plain}}}};
  return openapi_document("sozai federation coordinator",
                          "Federated training of sozai surrogates with secure aggregation: parties send masked "
                          "updates, the coordinator learns only their sum. Bearer tokens: admin, and one party token "
                          "per party.",
                          paths);
}

int federate_serve(const ServeOptions& o) {
  check_serve_options(o, "federate serve");
  if (o.check) {
    const auto report = LabService::check_store(o.db);
    std::cout << report.text;
    return report.ok ? 0 : 1;
  }
  FederationService service(o.db, o.limits);
  bootstrap_admin(service.lab(), o.db, "sozai federate serve");
  const std::string doc = federate_openapi_json();

  auto precheck = [&](const http::Request& req) -> std::optional<http::Response> {
    if (req.path == "/healthz" || req.path == "/openapi.json") return precheck_static(req);
    RouteMatch m;
    if (const auto* route = federated::match_federation_route(req.method, req.path, nullptr, m.status, m.allow))
      m = {true, 200, "", route->role, route->mutating};
    return precheck_route(req, service.lab(), m, federated::federation_role_allows);
  };

  auto handle = [&](const http::Request& req) -> http::Response {
    try {
      if (req.path == "/healthz") return health_response(service.lab());
      if (req.path == "/openapi.json") {
        http::Response r;
        r.body = doc;
        return r;
      }
      const auto who = service.lab().authenticate(req.header("Authorization"));
      int status = 0;
      std::string allow;
      const auto* route = federated::match_federation_route(req.method, req.path, nullptr, status, allow);
      if (!route) return error_response(status, "no such route; see /openapi.json");
      const json body = route->mutating && !req.body.empty() ? json_io::parse_untrusted(req.body, "the body")
                                                              : json::object();
      const auto r = service.handle(who, req.method, req.path, body, req.header("Idempotency-Key"));
      return json_response(r.status, r.body);
    } catch (...) {
      return error_for_current_exception("sozai federate serve", req);
    }
  };
  return run_server(o, "sozai federate serve", precheck, handle, "store " + o.db);
}

}  // namespace cli
}  // namespace sozai
