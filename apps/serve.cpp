// `sozai serve`: HTTP/JSON routes over LabService. One table of routes
// drives both the HTTP router and the OpenAPI document, so the two cannot
// drift apart.
#include "apps/serve.h"
#include "apps/dashboard.h"
#include "common/build_info.h"
#include "core/lab/lab_service.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

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
  const httplib::Request& req;
  const json& body;
  const std::string& key;
  std::string path_param(int i) const { return req.matches[i]; }
};

struct Route {
  const char* method;   ///< GET or POST
  const char* path;     ///< OpenAPI form: /v1/campaigns/{id}
  const char* summary;
  const char* role;     ///< least role needed
  bool mutating;        ///< takes a JSON body and an Idempotency-Key
  std::function<LabResponse(LabService&, const Call&)> handle;
};

std::vector<Route> routes() {
  return {
      {"POST", "/v1/campaigns", "Create a campaign: parameters, objectives, optional pool and settings", "admin", true,
       [](LabService& s, const Call& c) { return s.create_campaign(c.who, c.body, c.key); }},
      {"GET", "/v1/campaigns", "List the campaigns the token may see", "viewer", false,
       [](LabService& s, const Call& c) { return s.list_campaigns(c.who); }},
      {"GET", "/v1/campaigns/{id}", "Counts per state, best observed so far, settings", "viewer", false,
       [](LabService& s, const Call& c) { return s.get_campaign(c.who, c.path_param(1)); }},
      {"POST", "/v1/campaigns/{id}/ask", "Lease the next experiments: {count, lease_seconds, controller}",
       "controller", true, [](LabService& s, const Call& c) { return s.ask(c.who, c.path_param(1), c.body, c.key); }},
      {"POST", "/v1/campaigns/{id}/experiments/{eid}/result",
       "Report a result: {values: {objective: number}, status: completed|failed, note}", "controller", true,
       [](LabService& s, const Call& c) {
         return s.report(c.who, c.path_param(1), c.path_param(2), c.body, c.key);
       }},
      {"POST", "/v1/campaigns/{id}/experiments/{eid}/cancel", "Withdraw an experiment that has no result",
       "controller", true,
       [](LabService& s, const Call& c) { return s.cancel(c.who, c.path_param(1), c.path_param(2), c.key); }},
      {"GET", "/v1/campaigns/{id}/experiments", "Experiments, optionally of one state (?state=...)", "viewer", false,
       [](LabService& s, const Call& c) {
         return s.list_experiments(c.who, c.path_param(1), c.req.get_param_value("state"));
       }},
      {"GET", "/v1/campaigns/{id}/export", "Every experiment ever proposed, as JSON or ?format=csv", "viewer", false,
       [](LabService& s, const Call& c) {
         const auto f = c.req.get_param_value("format");
         return s.export_campaign(c.who, c.path_param(1), f.empty() ? "json" : f);
       }},
      {"POST", "/v1/tokens", "Create a token: {role: admin|controller|viewer, campaign}", "admin", true,
       [](LabService& s, const Call& c) { return s.create_token(c.who, c.body, c.key); }},
  };
}

std::string route_regex(const std::string& path) {
  return std::regex_replace(path, std::regex(R"(\{[a-z]+\})"), "([^/]+)");
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}, {"status", status}});
}

/// The body of a mutating request as JSON ({} when empty); LabError 400.
json parse_body(const httplib::Request& req) {
  if (req.body.empty()) return json::object();
  try {
    return json::parse(req.body);
  } catch (const json::exception& e) {
    throw LabError(400, str("the body is not valid JSON: ", e.what()));
  }
}

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
  if (path == "/v1/campaigns/{id}/experiments") {
    nlohmann::json states = nlohmann::json::array();
    for (auto st : experiment_states()) states.push_back(to_string(st));
    params.push_back({{"name", "state"}, {"in", "query"}, {"required", false},
                      {"schema", {{"type", "string"}, {"enum", states}}}});
  }
  if (path == "/v1/campaigns/{id}/export")
    params.push_back({{"name", "format"}, {"in", "query"}, {"required", false},
                      {"schema", {{"type", "string"}, {"enum", {"json", "csv"}}}}});
  if (r.mutating)
    params.push_back({{"name", "Idempotency-Key"}, {"in", "header"}, {"required", false},
                      {"description", "a retry with the same key returns the first answer and changes nothing"},
                      {"schema", {{"type", "string"}, {"maxLength", 200}}}});
  op["parameters"] = params;
  if (r.mutating)
    op["requestBody"] = {{"required", false},
                         {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  json ok{{"description", "success"}, {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  if (path == "/v1/campaigns/{id}/export") ok["content"]["text/csv"] = {{"schema", {{"type", "string"}}}};
  json responses{{std::string(path == "/v1/campaigns" && std::string(r.method) == "POST" ? "201" : "200"), ok}};
  if (path == "/v1/tokens") responses = {{"201", ok}};
  const json error{{"description", "error"}, {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  for (const char* code : {"400", "401", "403", "404", "409", "413", "422"}) responses[code] = error;
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
  paths["/healthz"]["get"] = {{"summary", "Liveness: {status: ok, version}"}, {"operationId", "/healthz"},
                              {"security", json::array()}, {"responses", {{"200", plain}}}};
  paths["/openapi.json"]["get"] = {{"summary", "This document"}, {"operationId", "/openapi.json"},
                                   {"security", json::array()}, {"responses", {{"200", plain}}}};
  paths["/"]["get"] = {{"summary", "Dashboard page (asks for a viewer token)"}, {"operationId", "/"},
                       {"security", json::array()},
                       {"responses", {{"200", {{"description", "HTML"}, {"content", {{"text/html", {{"schema", {{"type", "string"}}}}}}}}}}}};
  json doc{{"openapi", "3.0.3"},
           {"info", {{"title", "sozai lab service"}, {"version", SOZAI_VERSION},
                     {"description", "Durable experiment queue for autonomous labs: ask for experiments, report "
                                     "results. Bearer tokens with roles admin, controller, viewer."}}},
           {"paths", paths},
           {"components",
            {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
             {"schemas",
              {{"Error", {{"type", "object"}, {"required", {"error", "status"}},
                          {"properties", {{"error", {{"type", "string"}}}, {"status", {{"type", "integer"}}}}}}}}}}}};
  return doc.dump(1);
}

namespace {

std::atomic<httplib::Server*> g_server{nullptr};

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

int serve(const ServeOptions& o) {
  if (o.db.empty()) throw InputError("serve: --db PATH is required");
  if (o.tls_cert.empty() != o.tls_key.empty()) throw InputError("serve: give both --tls-cert and --tls-key, or neither");
  LabService service(o.db);
  const char* preset = std::getenv("SOZAI_ADMIN_TOKEN");
  const auto admin = service.bootstrap_admin_token(preset ? preset : "");
  if (!admin.empty() && !(preset && *preset)) {
    const auto file = write_admin_token(o.db, admin);
    std::cerr << "sozai serve: new store; admin token (shown once, also in " << file << "):\n" << admin << "\n";
  } else if (!admin.empty()) {
    std::cerr << "sozai serve: new store; admin token taken from SOZAI_ADMIN_TOKEN\n";
  }

  std::unique_ptr<httplib::Server> server;
  if (!o.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!ssl->is_valid()) throw InputError(str("serve: cannot use the TLS certificate '", o.tls_cert, "' and key '",
                                               o.tls_key, "'"));
    server = std::move(ssl);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  auto& svr = *server;
  const int threads = std::max(o.threads, 2);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_payload_max_length(static_cast<size_t>(o.max_body_bytes));
  svr.set_error_handler([&o](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413)
      send_error(res, 413, str("the body is larger than ", o.max_body_bytes, " bytes"));
    else if (res.status == 404)
      send_error(res, 404, "no such route; see /openapi.json");
    else
      send_error(res, res.status, "request refused");
  });

  for (const auto& route : routes()) {
    auto handler = [&service, route](const httplib::Request& req, httplib::Response& res) {
      try {
        const auto who = service.authenticate(req.get_header_value("Authorization"));
        const json body = route.mutating ? parse_body(req) : json::object();
        const auto key = req.get_header_value("Idempotency-Key");
        auto r = route.handle(service, Call{who, req, body, key});
        if (!r.text.empty() || !r.content_type.empty()) {
          res.status = r.status;
          res.set_content(r.text, r.content_type.c_str());
        } else {
          send_json(res, r.status, r.body);
        }
      } catch (const LabError& e) {
        send_error(res, e.status(), e.what());
      } catch (const InputError& e) {
        send_error(res, 400, e.what());
      } catch (const std::exception& e) {
        std::cerr << "sozai serve: " << req.method << " " << req.path << ": " << e.what() << "\n";
        send_error(res, 500, str("internal error: ", e.what()));
      }
    };
    const auto pattern = route_regex(route.path);
    if (std::string(route.method) == "GET") svr.Get(pattern, handler);
    else svr.Post(pattern, handler);
  }
  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"status", "ok"}, {"version", SOZAI_VERSION}});
  });
  const std::string doc = openapi_json();
  svr.Get("/openapi.json", [doc](const httplib::Request&, httplib::Response& res) {
    res.set_content(doc, "application/json");
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(dashboard_html(), "text/html"); });

  int port = o.port;
  if (port == 0) {
    port = svr.bind_to_any_port(o.host.c_str());
  } else if (!svr.bind_to_port(o.host.c_str(), port)) {
    port = -1;
  }
  if (port < 0) throw InputError(str("serve: cannot listen on ", o.host, ":", o.port, " (in use, or no permission)"));

  // SIGINT / SIGTERM stop the server from a thread that waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  g_server = &svr;
  std::thread stopper([set] {
    int sig = 0;
    sigwait(&set, &sig);
    if (auto* s = g_server.load()) s->stop();
  });
  stopper.detach();
  std::cerr << "sozai serve: listening on " << (o.tls_cert.empty() ? "http" : "https") << "://" << o.host << ":"
            << port << " (store " << o.db << ")" << std::endl;
  const bool ok = svr.listen_after_bind();
  g_server = nullptr;
  std::cerr << "sozai serve: stopped\n";
  return ok ? 0 : 1;
}

}  // namespace cli
}  // namespace sozai
