// sozai.lab: the lab service in-process (LabService over its SQLite store),
// without HTTP; sozai.lab.Client talks to `sozai serve` over HTTP.
#include "convert.h"

#include <pybind11/stl.h>

#include "common/json.h"
#include "core/lab/lab_service.h"

namespace sozai {

namespace {
/// A request body as the HTTP service reads it (depth, repeated keys, UTF-8 checked).
nlohmann::json parse(const std::string& text, const char* what) {
  return text.empty() ? nlohmann::json::object() : json_io::parse_untrusted(text, what);
}

/// (status, JSON text or CSV text) of a LabResponse.
py::tuple answer(const LabResponse& r) {
  return py::make_tuple(r.status, r.text.empty() ? json_io::dump_safe(r.body) : r.text);
}
}  // namespace

void bind_lab(py::module_& root) {
  auto m = root.def_submodule("lab", "The smart-lab service in-process: campaigns, leases, results, tokens");
  // A refused request raises sozai.lab.LabError(status, message), as the
  // HTTP client does.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const LabError& e) {
      auto cls = py::module_::import("sozai.lab").attr("LabError");
      auto err = cls(e.status(), e.what());
      PyErr_SetObject(cls.ptr(), err.ptr());
    }
  });
  py::class_<Principal>(m, "Principal")
      .def_readonly("token_id", &Principal::token_id)
      .def_readonly("role", &Principal::role)
      .def_readonly("campaign", &Principal::campaign);
  py::class_<LabService>(m, "LabService",
                         "The service `sozai serve` runs, without HTTP: every call takes the caller (a Principal from "
                         "authenticate) and answers (status, body text).")
      .def(py::init([](const std::string& db, const std::string& limits) {
             return std::make_unique<LabService>(
                 db, lab_limits_from_json(limits.empty() ? nlohmann::json::object() : nlohmann::json::parse(limits),
                                          "limits"));
           }),
           py::arg("db"), py::arg("limits") = "")
      .def("limits", [](const LabService& s) { return nlohmann::json(s.limits()).dump(); })
      .def("health", &LabService::health)
      .def_static("check_store", [](const std::string& db) {
             const auto r = LabService::check_store(db);
             return py::make_tuple(r.ok, r.text);
           }, py::arg("db"))
      .def("create_token", py::overload_cast<const std::string&, const std::string&>(&LabService::create_token),
           py::arg("role"), py::arg("campaign") = "")
      .def("bootstrap_admin_token", &LabService::bootstrap_admin_token, py::arg("preset") = "")
      .def("authenticate", &LabService::authenticate, py::arg("authorization"))
      .def("create_campaign", [](LabService& s, const Principal& who, const std::string& body, const std::string& key) {
             return answer(s.create_campaign(who, parse(body, "campaign"), key));
           }, py::arg("who"), py::arg("body"), py::arg("idempotency_key") = "")
      .def("get_campaign", [](LabService& s, const Principal& who, const std::string& id) {
             return answer(s.get_campaign(who, id));
           }, py::arg("who"), py::arg("id"))
      .def("list_campaigns", [](LabService& s, const Principal& who, const std::string& after, const std::string& limit) {
             return answer(s.list_campaigns(who, after, limit));
           }, py::arg("who"), py::arg("after") = "", py::arg("limit") = "")
      .def("ask", [](LabService& s, const Principal& who, const std::string& id, const std::string& body,
                     const std::string& key) {
             LabResponse r;
             {
               py::gil_scoped_release release;
               r = s.ask(who, id, parse(body, "ask"), key);
             }
             return answer(r);
           }, py::arg("who"), py::arg("id"), py::arg("body") = "{}", py::arg("idempotency_key") = "")
      .def("report", [](LabService& s, const Principal& who, const std::string& id, const std::string& experiment,
                        const std::string& body, const std::string& key) {
             return answer(s.report(who, id, experiment, parse(body, "result"), key));
           }, py::arg("who"), py::arg("id"), py::arg("experiment"), py::arg("body"), py::arg("idempotency_key") = "")
      .def("cancel", [](LabService& s, const Principal& who, const std::string& id, const std::string& experiment,
                        const std::string& key) { return answer(s.cancel(who, id, experiment, key)); },
           py::arg("who"), py::arg("id"), py::arg("experiment"), py::arg("idempotency_key") = "")
      .def("list_experiments", [](LabService& s, const Principal& who, const std::string& id, const std::string& state,
                                  const std::string& after, const std::string& limit) {
             return answer(s.list_experiments(who, id, state, after, limit));
           }, py::arg("who"), py::arg("id"), py::arg("state") = "", py::arg("after") = "", py::arg("limit") = "")
      .def("list_results", [](LabService& s, const Principal& who, const std::string& id, const std::string& after,
                              const std::string& limit) { return answer(s.list_results(who, id, after, limit)); },
           py::arg("who"), py::arg("id"), py::arg("after") = "", py::arg("limit") = "")
      .def("export_campaign", [](LabService& s, const Principal& who, const std::string& id, const std::string& format) {
             return answer(s.export_campaign(who, id, format));
           }, py::arg("who"), py::arg("id"), py::arg("format") = "json");
}

}  // namespace sozai
