// sozai.federated: secure aggregation (Bonawitz et al. 2017) - the parties'
// and the coordinator's messages, and one round simulated in this process.
#include "convert.h"

#include <pybind11/stl.h>

#include "common/json.h"
#include "core/federated/coordinator.h"
#include "core/federated/fedavg.h"
#include "models/config_json.h"
#include "core/federated/privacy.h"
#include "core/federated/secure_aggregation.h"

namespace sozai {

namespace {

py::bytes to_bytes(const federated::Bytes& b) { return py::bytes(reinterpret_cast<const char*>(b.data()), b.size()); }

federated::Bytes from_bytes(const py::bytes& b) {
  const std::string s = b;
  return federated::Bytes(s.begin(), s.end());
}

std::vector<federated::PartyData> party_list(const py::list& parties) {
  std::vector<federated::PartyData> data;
  int k = 0;
  for (const auto& item : parties) {
    ++k;
    auto t = item.cast<py::tuple>();
    if (t.size() != 2 && t.size() != 3)
      throw InputError(str("party ", k, " must be (inputs, y) or (inputs, y, conditions)"));
    federated::PartyData d;
    d.inputs = t[0].cast<std::vector<std::string>>();
    const auto y_what = str("party ", k, " y"), c_what = str("party ", k, " conditions");
    d.y = to_tensor(t[1].cast<DoubleArray>(), -1, y_what.c_str());
    if (t.size() == 3 && !t[2].is_none()) d.conditions = to_tensor(t[2].cast<DoubleArray>(), 2, c_what.c_str());
    data.push_back(std::move(d));
  }
  return data;
}

py::dict log_dict(const federated::FederatedLog& log) {
  py::dict d;
  d["round_seconds"] = log.round_seconds;
  d["round_bytes"] = log.round_bytes;
  d["round_update_norm"] = log.round_update_norm;
  d["round_loss"] = log.round_loss;
  d["coordinator_bytes"] = log.coordinator_bytes;
  d["coordinator_received"] = to_bytes(log.coordinator_received);
  d["clipped_entries"] = log.clipped_entries;
  d["max_quantisation_error"] = log.max_quantisation_error;
  d["variance_scale"] = log.variance_scale;
  d["dp_epsilon"] = log.dp_epsilon;
  d["dp_delta"] = log.dp_delta;
  d["finished"] = log.finished;
  d["resumed_rounds"] = log.resumed_rounds;
  return d;
}

/// (status, JSON text) of a coordinator's answer.
py::tuple answer(const LabResponse& r) { return py::make_tuple(r.status, json_io::dump_safe(r.body)); }

}  // namespace

void bind_federated(py::module_& root) {
  using namespace federated;
  auto m = root.def_submodule("federated", "Training across companies without pooling their data: secure aggregation");
  m.def(
      "secure_sum",
      [](const std::vector<std::vector<double>>& vectors, int threshold, double clip,
         const std::vector<int>& drop_after_sharing, int64_t round, const std::vector<int>& drop_after_masking) {
        SecureSumResult r;
        {
          py::gil_scoped_release release;
          r = secure_sum(vectors, threshold, clip, drop_after_sharing, round, nullptr, drop_after_masking);
        }
        py::dict d;
        d["sum"] = r.sum;
        d["survivors"] = r.survivors;
        d["coordinator_bytes"] = r.coordinator_bytes;
        d["plain_bytes"] = r.plain_bytes;
        d["max_quantisation_error"] = r.max_quantisation_error;
        return d;
      },
      py::arg("vectors"), py::arg("threshold"), py::arg("clip"), py::arg("drop_after_sharing") = std::vector<int>{},
      py::arg("round") = 0, py::arg("drop_after_masking") = std::vector<int>{});
  m.def(
      "shamir_split",
      [](const py::bytes& secret, int threshold, const std::vector<int>& xs) {
        py::dict d;
        for (const auto& [x, s] : shamir_split(from_bytes(secret), threshold, xs)) d[py::int_(x)] = to_bytes(s);
        return d;
      },
      py::arg("secret"), py::arg("threshold"), py::arg("xs"));
  m.def(
      "shamir_combine",
      [](const std::map<int, py::bytes>& shares, int threshold) {
        std::map<int, Bytes> s;
        for (const auto& [x, b] : shares) s[x] = from_bytes(b);
        return to_bytes(shamir_combine(s, threshold));
      },
      py::arg("shares"), py::arg("threshold"));
  m.def(
      "gaussian_privacy",
      [](double noise_multiplier, int64_t rounds, double delta) {
        const auto p = gaussian_privacy(noise_multiplier, rounds, delta);
        py::dict d;
        d["epsilon"] = p.epsilon;
        d["delta"] = p.delta;
        d["best_order"] = p.best_order;
        return d;
      },
      py::arg("noise_multiplier"), py::arg("rounds"), py::arg("delta"));
  m.def("clip_and_noise", &clip_and_noise, py::arg("update"), py::arg("clip_norm"), py::arg("noise_sd"));
  m.def(
      "federated_fit",
      [](const gnn::GnnEnsemble& like, const py::list& parties, int64_t rounds, int64_t local_epochs, bool secure,
         int threshold, double update_clip, double calibration_fraction, bool keep_messages, double proximal_mu,
         double dp_clip, double dp_noise_multiplier, double dp_delta, double server_lr, double server_momentum,
         const std::string& checkpoint, double checkpoint_minutes, double max_hours) {
        const auto data = party_list(parties);
        FederatedConfig c;
        c.rounds = rounds;
        c.local_epochs = local_epochs;
        c.secure = secure;
        c.threshold = threshold;
        c.update_clip = update_clip;
        c.calibration_fraction = calibration_fraction;
        c.keep_messages = keep_messages;
        c.proximal_mu = proximal_mu;
        c.dp_clip = dp_clip;
        c.dp_noise_multiplier = dp_noise_multiplier;
        c.dp_delta = dp_delta;
        c.server_lr = server_lr;
        c.server_momentum = server_momentum;
        FederatedLog log;
        gnn::GnnEnsemble model = [&] {
          py::gil_scoped_release release;
          return federated_fit(like.config(), data, c, &log,
                               SimulationCheckpoint{checkpoint, checkpoint_minutes, max_hours});
        }();
        auto d = log_dict(log);
        return py::make_tuple(std::move(model), d);
      },
      py::arg("like"), py::arg("parties"), py::arg("rounds"), py::arg("local_epochs"), py::arg("secure"),
      py::arg("threshold"), py::arg("update_clip"), py::arg("calibration_fraction"), py::arg("keep_messages"),
      py::arg("proximal_mu") = 0.0, py::arg("dp_clip") = 0.0, py::arg("dp_noise_multiplier") = 0.0,
      py::arg("dp_delta") = 1e-5, py::arg("server_lr") = 1.0, py::arg("server_momentum") = 0.0,
      py::arg("checkpoint") = "", py::arg("checkpoint_minutes") = 5.0, py::arg("max_hours") = 0.0);
  py::class_<FederationService>(m, "FederationService",
                                "A federation's coordinator without HTTP (what `sozai federate serve` runs)")
      .def(py::init<const std::string&>(), py::arg("db"))
      .def("bootstrap_admin_token", [](FederationService& s, const std::string& preset) {
             return s.lab().bootstrap_admin_token(preset);
           }, py::arg("preset") = "")
      .def("authenticate", [](FederationService& s, const std::string& a) { return s.lab().authenticate(a); },
           py::arg("authorization"))
      .def("create_federation",
           [](FederationService& s, const std::string& name, int64_t parties, const gnn::GnnEnsemble& like,
              const std::string& training, double phase_timeout) {
             nlohmann::json body{{"name", name}, {"parties", parties}, {"model", nlohmann::json(like.config())},
                                 {"training", json_io::parse_untrusted(training, "training")},
                                 {"phase_timeout", phase_timeout}};
             return s.create_federation(body);
           },
           py::arg("name"), py::arg("parties"), py::arg("like"), py::arg("training"), py::arg("phase_timeout"))
      .def("create_party_token", &FederationService::create_party_token, py::arg("federation"))
      .def("handle",
           [](FederationService& s, const Principal& who, const std::string& method, const std::string& path,
              const std::string& body, const std::string& key) {
             const auto j = body.empty() ? nlohmann::json::object() : json_io::parse_untrusted(body, "the body");
             LabResponse r;
             {
               py::gil_scoped_release release;
               r = s.handle(who, method, path, j, key);
             }
             return answer(r);
           },
           py::arg("who"), py::arg("method"), py::arg("path"), py::arg("body") = "", py::arg("idempotency_key") = "");
  // join: against a coordinator in this process, or one over HTTP(S).
  auto join_with = [](Transport& t, const std::string& federation, const py::tuple& party, double wait, double poll,
                      bool progress) {
    py::list one;
    one.append(party);
    const auto data = party_list(one);
    JoinOptions o;
    o.federation = federation;
    o.wait_seconds = wait;
    o.poll_seconds = poll;
    o.progress = progress;
    FederatedLog log;
    gnn::GnnEnsemble model = [&] {
      py::gil_scoped_release release;
      return join(t, data.front(), o, &log);
    }();
    return py::make_tuple(std::move(model), log_dict(log));
  };
  m.def(
      "join_local",
      [join_with](FederationService& s, const std::string& token, const std::string& federation, const py::tuple& party,
                  double wait, double poll, bool progress) {
        LocalTransport t(s, token);
        return join_with(t, federation, party, wait, poll, progress);
      },
      py::arg("service"), py::arg("token"), py::arg("federation"), py::arg("party"), py::arg("wait"), py::arg("poll"),
      py::arg("progress"));
  m.def(
      "join_http",
      [join_with](const std::string& url, const std::string& token, const std::string& ca_cert,
                  const std::string& federation, const py::tuple& party, double wait, double poll, bool progress) {
        HttpTransport t(url, token, ca_cert);
        return join_with(t, federation, party, wait, poll, progress);
      },
      py::arg("url"), py::arg("token"), py::arg("ca_cert"), py::arg("federation"), py::arg("party"), py::arg("wait"),
      py::arg("poll"), py::arg("progress"));
  py::class_<FixedPoint>(m, "FixedPoint")
      .def(py::init([](double clip, int64_t parties) { return FixedPoint{clip, parties}; }), py::arg("clip"),
           py::arg("parties"))
      .def_readonly("clip", &FixedPoint::clip)
      .def_readonly("parties", &FixedPoint::parties)
      .def("scale", &FixedPoint::scale)
      .def("encode", &FixedPoint::encode, py::arg("x"))
      .def("decode_sum", &FixedPoint::decode_sum, py::arg("sum"));
}

}  // namespace sozai
