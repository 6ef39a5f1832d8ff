// `sozai serve`: HTTP/JSON routes over LabService on the hardened server of
// apps/http_server.h. One table of routes drives the router, the checks made
// before a body is read, and the OpenAPI document, so they cannot drift
// apart.
#include "apps/serve.h"
#include "apps/dashboard.h"
#include "apps/http_server.h"
#include "common/build_info.h"
#include "common/json.h"
#include "common/strings.h"
#include "core/lab/lab_service.h"

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <regex>
#include <thread>

namespace sozai {
namespace cli {

namespace {

using nlohmann::json;

struct Call {
  const Principal& who;
  const http::Request& req;
  const json& body;
  const std::string& key;
  std::vector<std::string> params;  ///< path parameters, in order
};

struct Route {
  const char* method;   ///< GET or POST
  const char* path;     ///< OpenAPI form: /v1/campaigns/{id}
  const char* summary;
  const char* role;     ///< least role needed
  bool mutating;        ///< takes a JSON body and an Idempotency-Key
  std::function<LabResponse(LabService&, const Call&)> handle;
};

/// A query value, or fallback when absent.
std::string query_or(const http::Request& r, const char* name, const std::string& fallback) {
  return r.has_query(name) ? r.query_value(name) : fallback;
}

std::vector<Route> routes() {
  return {
      {"POST", "/v1/campaigns", "Create a campaign: parameters, objectives, optional pool and settings", "admin", true,
       [](LabService& s, const Call& c) { return s.create_campaign(c.who, c.body, c.key); }},
      {"GET", "/v1/campaigns", "List the campaigns the token may see (?after=ID&limit=N)", "viewer", false,
       [](LabService& s, const Call& c) {
         return s.list_campaigns(c.who, query_or(c.req, "after", ""), query_or(c.req, "limit", ""));
       }},
      {"GET", "/v1/campaigns/{id}", "Counts per state, best observed so far, settings", "viewer", false,
       [](LabService& s, const Call& c) { return s.get_campaign(c.who, c.params[0]); }},
      {"POST", "/v1/campaigns/{id}/ask", "Lease the next experiments: {count, lease_seconds, controller}",
       "controller", true, [](LabService& s, const Call& c) { return s.ask(c.who, c.params[0], c.body, c.key); }},
      {"POST", "/v1/campaigns/{id}/experiments/{eid}/result",
       "Report a result: {values: {objective: number}, status: completed|failed, note}", "controller", true,
       [](LabService& s, const Call& c) { return s.report(c.who, c.params[0], c.params[1], c.body, c.key); }},
      {"POST", "/v1/campaigns/{id}/experiments/{eid}/cancel", "Withdraw an experiment that has no result",
       "controller", true,
       [](LabService& s, const Call& c) { return s.cancel(c.who, c.params[0], c.params[1], c.key); }},
      {"GET", "/v1/campaigns/{id}/experiments",
       "Experiments in id order, a page at a time (?state=...&after=ID&limit=N; the answer's next_after continues)",
       "viewer", false,
       [](LabService& s, const Call& c) {
         return s.list_experiments(c.who, c.params[0], query_or(c.req, "state", ""), query_or(c.req, "after", ""),
                                   query_or(c.req, "limit", ""));
       }},
      {"GET", "/v1/campaigns/{id}/results",
       "Finished experiments in the order their results arrived, a page at a time (?after=SEQ&limit=N)", "viewer",
       false,
       [](LabService& s, const Call& c) {
         return s.list_results(c.who, c.params[0], query_or(c.req, "after", ""), query_or(c.req, "limit", ""));
       }},
      {"GET", "/v1/campaigns/{id}/export", "Every experiment ever proposed, as JSON or ?format=csv", "viewer", false,
       [](LabService& s, const Call& c) {
         return s.export_campaign(c.who, c.params[0], query_or(c.req, "format", "json"));
       }},
      {"POST", "/v1/tokens", "Create a token: {role: admin|controller|viewer, campaign}", "admin", true,
       [](LabService& s, const Call& c) { return s.create_token(c.who, c.body, c.key); }},
  };
}

std::regex route_regex(const std::string& path) {
  return std::regex(std::regex_replace(path, std::regex(R"(\{[a-z]+\})"), "([^/]+)"));
}


/// Static files of the dashboard: path, content type, bytes.
struct Asset {
  const char* path;
  const char* content_type;
  std::string (*bytes)();
};

const std::vector<Asset>& assets() {
  static const std::vector<Asset> a = {
      {"/", "text/html; charset=utf-8", &dashboard_html},
      {"/dashboard.js", "text/javascript; charset=utf-8", &dashboard_js},
      {"/dashboard.css", "text/css; charset=utf-8", &dashboard_css},
      {"/uplot.js", "text/javascript; charset=utf-8", &uplot_js},
      {"/uplot.css", "text/css; charset=utf-8", &uplot_css},
  };
  return a;
}

/// The dashboard's policy: its own scripts, styles and API only; no
/// inline script, no framing, no forms, no plugins.
const char* kDashboardPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

json operation_json(const Route& r) {
  json op{{"summary", r.summary},
          {"operationId", r.path},
          {"security", json::array({{{"bearer", json::array()}}})},
          {"x-sozai-role", r.role}};
  json params = json::array();
  std::smatch m;
  std::string rest = r.path;
  while (std::regex_search(rest, m, std::regex(R"(\{([a-z]+)\})"))) {
    params.push_back({{"name", m[1].str()}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    rest = m.suffix();
  }
  const std::string path = r.path;
  auto query = [&](const char* name, json schema) {
    params.push_back({{"name", name}, {"in", "query"}, {"required", false}, {"schema", schema}});
  };
  if (path == "/v1/campaigns/{id}/experiments") {
    json states = json::array();
    for (auto st : experiment_states()) states.push_back(to_string(st));
    query("state", {{"type", "string"}, {"enum", states}});
  }
  if (path == "/v1/campaigns/{id}/experiments" || path == "/v1/campaigns/{id}/results" ||
      (path == "/v1/campaigns" && std::string(r.method) == "GET")) {
    query("after", {{"type", "string"}});
    query("limit", {{"type", "integer"}, {"minimum", 1}});
  }
  if (path == "/v1/campaigns/{id}/export") query("format", {{"type", "string"}, {"enum", {"json", "csv"}}});
  if (r.mutating)
    params.push_back({{"name", "Idempotency-Key"}, {"in", "header"}, {"required", false},
                      {"description", "a retry with the same key returns the first answer and changes nothing"},
                      {"schema", {{"type", "string"}, {"maxLength", 200}, {"pattern", "^[!-~]+$"}}}});
  op["parameters"] = params;
  if (r.mutating)
    op["requestBody"] = {{"required", false},
                         {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  json ok{{"description", "success"}, {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  if (path == "/v1/campaigns/{id}/export") ok["content"]["text/csv"] = {{"schema", {{"type", "string"}}}};
  json responses{{std::string(path == "/v1/campaigns" && std::string(r.method) == "POST" ? "201" : "200"), ok}};
  if (path == "/v1/tokens") responses = {{"201", ok}};
  const json error{{"description", "error"},
                   {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  for (const char* code : {"400", "401", "403", "404", "408", "409", "413", "415", "422", "429", "431", "503"})
    responses[code] = error;
  op["responses"] = responses;
  return op;
}

}  // namespace

std::string openapi_json() {
  json paths = json::object();
  for (const auto& r : routes()) {
    std::string m = r.method;
    std::transform(m.begin(), m.end(), m.begin(), ::tolower);
    paths[r.path][m] = operation_json(r);
  }
  const json plain{{"description", "success"}, {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  paths["/healthz"]["get"] = {{"summary", "Liveness: {status: ok, version}; 503 when the store failed a check"},
                              {"operationId", "/healthz"},
                              {"security", json::array()},
                              {"responses", {{"200", plain}, {"503", plain}}}};
  paths["/openapi.json"]["get"] = {{"summary", "This document"}, {"operationId", "/openapi.json"},
                                   {"security", json::array()}, {"responses", {{"200", plain}}}};
  for (const auto& a : assets()) {
    paths[a.path]["get"] = {
        {"summary", std::string(a.path) == "/" ? "Dashboard page (asks for a viewer token)" : "Dashboard asset"},
        {"operationId", a.path},
        {"security", json::array()},
        {"responses",
         {{"200", {{"description", "file"}, {"content", {{a.content_type, {{"schema", {{"type", "string"}}}}}}}}}}}};
  }
  return openapi_document("sozai lab service",
                          "Durable experiment queue for autonomous labs: ask for experiments, report results. Bearer "
                          "tokens with roles admin, controller, viewer.",
                          paths);
}

std::string openapi_document(const std::string& title, const std::string& description, const json& paths) {
  json doc{{"openapi", "3.0.3"},
           {"info", {{"title", title}, {"version", SOZAI_VERSION}, {"description", description}}},
           {"paths", paths},
           {"components",
            {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
             {"schemas",
              {{"Error", {{"type", "object"}, {"required", {"error", "status"}},
                          {"properties", {{"error", {{"type", "string"}}}, {"status", {{"type", "integer"}}}}}}}}}}}};
  return doc.dump(1);
}

namespace {

/// Routes, matched against a request's path.
class Router {
 public:
  Router() {
    for (auto& r : routes()) table_.push_back({r, route_regex(r.path)});
  }
  /// The route for method and path; nullptr with status 404 or 405 (allow
  /// lists the methods the path has) when there is none.
  const Route* find(const std::string& method, const std::string& path, std::vector<std::string>& params,
                    int& status, std::string& allow) const {
    allow.clear();
    for (const auto& [route, re] : table_) {
      std::smatch m;
      if (!std::regex_match(path, m, re)) continue;
      if (method == route.method) {
        params.clear();
        for (size_t i = 1; i < m.size(); ++i) params.push_back(m[i]);
        return &route;
      }
      allow += (allow.empty() ? "" : ", ") + std::string(route.method);
    }
    status = allow.empty() ? 404 : 405;
    return nullptr;
  }

 private:
  std::vector<std::pair<Route, std::regex>> table_;
};

bool role_allows(const std::string& have, const std::string& need) {
  if (have == "admin") return true;
  if (need == "viewer") return have == "viewer" || have == "controller";
  if (need == "controller") return have == "controller";
  return false;
}


}  // namespace

int serve(const ServeOptions& o) {
  check_serve_options(o, "serve");
  if (o.check) {
    const auto report = LabService::check_store(o.db);
    std::cout << report.text;
    return report.ok ? 0 : 1;
  }
  LabService service(o.db, o.limits);
  bootstrap_admin(service, o.db, "sozai serve");

  const Router router;
  const std::string doc = openapi_json();
  const auto find_asset = [](const std::string& path) -> const Asset* {
    for (const auto& a : assets())
      if (path == a.path) return &a;
    return nullptr;
  };

  // Before the body: route, token, role, content type, key. Quick, no body.
  auto precheck = [&](const http::Request& req) -> std::optional<http::Response> {
    if (req.path == "/healthz" || req.path == "/openapi.json" || find_asset(req.path)) return precheck_static(req);
    std::vector<std::string> params;
    RouteMatch m;
    const Route* route = router.find(req.method, req.path, params, m.status, m.allow);
    if (route) m = {true, 200, "", route->role, route->mutating};
    return precheck_route(req, service, m, role_allows);
  };

  auto handle = [&](const http::Request& req) -> http::Response {
    try {
      if (req.path == "/healthz") return health_response(service);
      if (req.path == "/openapi.json") {
        http::Response r;
        r.body = doc;
        return r;
      }
      if (const Asset* a = find_asset(req.path)) {
        http::Response r;
        r.content_type = a->content_type;
        r.body = a->bytes();
        r.headers.push_back({"Content-Security-Policy", kDashboardPolicy});
        r.headers.push_back({"Cache-Control", "no-cache"});
        return r;
      }
      std::vector<std::string> params;
      int status = 0;
      std::string allow;
      const Route* route = router.find(req.method, req.path, params, status, allow);
      if (!route) return error_response(status, "no such route; see /openapi.json");
      const auto who = service.authenticate(req.header("Authorization"));
      if (!role_allows(who.role, route->role))
        return error_response(403, str("this needs a ", route->role, " token; yours is a ", who.role, " token"));
      const json body = route->mutating && !req.body.empty() ? json_io::parse_untrusted(req.body, "the body")
                                                              : json::object();
      const std::string key = req.header("Idempotency-Key");
      auto r = route->handle(service, Call{who, req, body, key, params});
      const auto recovered = service.store().take_recovery_note();
      if (!recovered.empty()) std::cerr << "sozai serve: " << recovered << std::endl;
      if (!r.text.empty() || !r.content_type.empty()) {
        http::Response out;
        out.status = r.status;
        out.content_type = r.content_type;
        out.body = r.text;
        return out;
      }
      return json_response(r.status, r.body);
    } catch (...) {
      return error_for_current_exception("sozai serve", req);
    }
  };

  return run_server(o, "sozai serve", precheck, handle, "store " + o.db);
}

http::Response json_response(int status, const nlohmann::json& body) {
  http::Response r;
  r.status = status;
  r.body = json_io::dump_safe(body);
  return r;
}

http::Response error_response(int status, const std::string& message) {
  return json_response(status, {{"error", printable(message, 500)}, {"status", status}});
}

bool valid_key(const std::string& key) {
  return !key.empty() && key.size() <= 200 &&
         std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

bool is_json_type(const std::string& content_type) {
  std::string t = to_lower(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  return t == "application/json";
}

namespace {

std::atomic<http::Server*> g_server{nullptr};

extern "C" void on_stop_signal(int sig) {
  if (auto* s = g_server.load()) s->stop();
  (void)sig;
}

#ifdef __GLIBC__
/// Requests on several workers leave freed memory in glibc's per-thread
/// arenas, which it does not hand back by itself (a 600 s soak held 1.4 GiB
/// at the end): a thread gives it back every 5 s while this lives.
class MemoryTrimmer {
 public:
  MemoryTrimmer()
      : thread_([this] {
          while (on_) {
            for (int i = 0; i < 50 && on_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            ::malloc_trim(0);
          }
        }) {}
  ~MemoryTrimmer() {
    on_ = false;
    thread_.join();
  }

 private:
  std::atomic<bool> on_{true};
  std::thread thread_;
};
#endif

/// Writes the generated admin token beside the store, readable by its owner only.
std::string write_admin_token(const std::string& db, const std::string& token) {
  const std::string path = db + ".admin-token";
  const mode_t old = ::umask(077);
  {
    std::ofstream out(path, std::ios::trunc);
    out << token << "\n";
    if (!out) {
      ::umask(old);
      throw StorageError(str("cannot write the admin token to '", path, "'"));
    }
  }
  ::umask(old);
  ::chmod(path.c_str(), 0600);
  return path;
}

}  // namespace

std::optional<http::Response> precheck_static(const http::Request& req) {
  if (req.method != "GET") {
    auto r = error_response(405, str(req.method, " is not allowed on ", req.path, "; use GET"));
    r.headers.push_back({"Allow", "GET"});
    return r;
  }
  if (req.body_announced()) return error_response(400, "a GET request takes no body");
  return std::nullopt;
}

std::optional<http::Response> precheck_route(const http::Request& req, LabService& lab, const RouteMatch& m,
                                             const std::function<bool(const std::string&, const std::string&)>& allows) {
  if (!m.found) {
    if (m.status == 404) return error_response(404, "no such route; see /openapi.json");
    auto r = error_response(405, str(req.method, " is not allowed here; allowed: ", m.allow));
    r.headers.push_back({"Allow", m.allow});
    return r;
  }
  try {
    // Only what is quick here (the event loop waits): a preset token's
    // slow hash is checked on a worker, by the handler.
    const auto who = lab.authenticate_quickly(req.header("Authorization"));
    if (who && !allows(who->role, m.role))
      return error_response(403, str("this needs a ", m.role, " token; yours is a ", who->role, " token"));
  } catch (const LabError& e) {
    return error_response(e.status(), e.what());
  }
  if (!m.mutating && req.body_announced()) return error_response(400, "a GET request takes no body");
  if (m.mutating && req.body_announced() && !is_json_type(req.header("Content-Type")))
    return error_response(415, "the body must be JSON, sent with Content-Type: application/json");
  if (req.has_header("Idempotency-Key") && !valid_key(req.header("Idempotency-Key")))
    return error_response(400, "Idempotency-Key must be 1 to 200 visible ASCII characters");
  return std::nullopt;
}

http::Response health_response(LabService& lab) {
  const auto health = lab.health();
  if (!health.empty()) return json_response(503, {{"status", "failing"}, {"error", health}});
  return json_response(200, {{"status", "ok"}, {"version", SOZAI_VERSION}});
}

http::Response error_for_current_exception(const char* name, const http::Request& req) {
  try {
    throw;
  } catch (const LabError& e) {
    return error_response(e.status(), e.what());
  } catch (const InputError& e) {
    return error_response(400, e.what());
  } catch (const StorageError& e) {
    std::cerr << name << ": " << req.method << " " << printable(req.path, 200) << ": " << e.what() << std::endl;
    return error_response(503, str("the store cannot be trusted: ", e.what()));
  } catch (const std::exception& e) {
    // The details go to the log, not to the client.
    std::cerr << name << ": " << req.method << " " << printable(req.path, 200) << ": " << e.what() << std::endl;
    return error_response(500, "internal error (details are in the server log)");
  }
}

void check_serve_options(const ServeOptions& o, const char* name) {
  if (o.db.empty()) throw InputError(str(name, ": --db PATH is required"));
  if (o.tls_cert.empty() != o.tls_key.empty())
    throw InputError(str(name, ": give both --tls-cert and --tls-key, or neither"));
  if (o.threads < 1 || o.threads > 1024) throw InputError(str(name, ": --threads must be in [1, 1024], got ", o.threads));
  if (o.max_body_bytes < 1024)
    throw InputError(str(name, ": --max-body-bytes must be at least 1024, got ", o.max_body_bytes));
}

void bootstrap_admin(LabService& service, const std::string& db, const char* name) {
  const char* preset = std::getenv("SOZAI_ADMIN_TOKEN");
  const auto admin = service.bootstrap_admin_token(preset ? preset : "");
  if (!admin.empty() && !(preset && *preset)) {
    const auto file = write_admin_token(db, admin);
    std::cerr << name << ": new store; its admin token is in " << file << " (readable by its owner only)" << std::endl;
  } else if (!admin.empty()) {
    std::cerr << name << ": new store; admin token taken from SOZAI_ADMIN_TOKEN" << std::endl;
  }
}

int run_server(const ServeOptions& o, const char* name, const http::Server::Precheck& precheck,
               const http::Server::Handler& handle, const std::string& what) {
  // Signals: a handler on every thread, so whichever receives SIGTERM or
  // SIGINT starts a clean stop (blocking them in each thread would miss the
  // ones the libraries start).
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  http::Limits limits;
  limits.workers = o.threads;
  limits.max_body_bytes = static_cast<size_t>(o.max_body_bytes);
  limits.header_timeout = o.header_timeout;
  limits.body_timeout = o.body_timeout;
  limits.idle_timeout = o.idle_timeout;
  limits.max_connections_per_client = static_cast<size_t>(o.max_connections_per_client);
  http::Server server(limits, precheck, handle);
  if (!o.tls_cert.empty()) server.use_tls(o.tls_cert, o.tls_key);
  const int port = server.listen(o.host, o.port);
#ifdef __GLIBC__
  const MemoryTrimmer trimmer;
#endif
  g_server = &server;
  std::cerr << name << ": listening on " << (o.tls_cert.empty() ? "http" : "https") << "://" << o.host << ":" << port
            << " (" << what << ")" << std::endl;
  server.run();
  g_server = nullptr;
  const auto n = server.counters();
  std::cerr << name << ": stopped cleanly after " << n.requests << " requests on " << n.connections << " connections"
            << std::endl;
  return 0;
}

}  // namespace cli
}  // namespace sozai
