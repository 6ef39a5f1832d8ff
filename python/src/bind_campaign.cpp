#include "convert.h"

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "core/campaign/benchmark.h"
#include "core/campaign/metrics.h"
#include "core/campaign/pool_campaign.h"
#include "core/campaign/space_campaign.h"
#include "datasets/graph.h"

namespace sozai {

namespace {
CampaignConfig make_config(const std::string& surrogate, const std::string& acquisition, int64_t n_init, uint64_t seed,
                           double ucb_beta, const std::string& kernel, const std::string& outcome_transform,
                           int restarts, int64_t mc_samples) {
  CampaignConfig c;
  c.mc_samples = mc_samples;
  c.surrogate = surrogate;
  c.acquisition = acquisition;
  c.n_init = n_init;
  c.seed = seed;
  c.ucb_beta = ucb_beta;
  c.gp.kernel = kernel;
  c.gp.outcome_transform = outcome_transform;
  c.gp.restarts = restarts;
  return c;
}

OptimizeConfig optimizer_config(const py::object& d) {
  OptimizeConfig o;
  if (d.is_none()) return o;
  for (const auto& item : d.cast<py::dict>()) {
    const auto key = item.first.cast<std::string>();
    const auto value = item.second.cast<int64_t>();
    if (key == "restarts") o.restarts = value;
    else if (key == "raw_samples") o.raw_samples = value;
    else if (key == "max_iter") o.max_iter = value;
    else if (key == "history") o.history = value;
    else if (key == "rounds") o.rounds = value;
    else
      throw InputError(str("optimizer settings: unknown key '", key,
                           "'; expected restarts, raw_samples, max_iter, history, rounds"));
  }
  return o;
}

std::vector<double> candidate_vector(const DoubleArray& c) {
  auto t = to_tensor(c, 1, "candidate");
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

CampaignGnnConfig gnn_config(const py::object& d) {
  CampaignGnnConfig g;
  if (d.is_none()) return g;
  for (const auto& item : d.cast<py::dict>()) {
    const auto key = item.first.cast<std::string>();
    if (key == "kind") g.kind = item.second.cast<std::string>();
    else if (key == "n_members") g.n_members = item.second.cast<int64_t>();
    else if (key == "hidden") g.hidden = item.second.cast<int64_t>();
    else if (key == "layers") g.layers = item.second.cast<int64_t>();
    else if (key == "max_epochs") g.max_epochs = item.second.cast<int64_t>();
    else if (key == "dkl_dims") g.dkl_dims = item.second.cast<int64_t>();
    else
      throw InputError(str("gnn settings: unknown key '", key,
                           "'; expected kind, n_members, hidden, layers, max_epochs, dkl_dims"));
  }
  return g;
}
}  // namespace

void bind_campaign(py::module_& root) {
  auto m = root.def_submodule("campaign", "Pool campaigns, benchmarks and metrics");
  py::class_<PoolCampaign>(m, "PoolCampaign", "A Bayesian-optimisation campaign over the rows of a pool.")
      .def(py::init([](const GraphBatch& graphs, bool maximize, const std::string& surrogate,
                       const std::string& acquisition, int64_t n_init, uint64_t seed, double ucb_beta,
                       const py::object& gnn, int64_t mc_samples) {
             auto c = make_config(surrogate, acquisition, n_init, seed, ucb_beta, "matern52", "auto", 4, mc_samples);
             c.gnn = gnn_config(gnn);
             return PoolCampaign(std::make_shared<const GraphBatch>(graphs), maximize, c);
           }),
           py::arg("pool"), py::arg("maximize") = true, py::arg("surrogate") = "gnn", py::arg("acquisition") = "logei",
           py::arg("n_init") = 2, py::arg("seed") = 0, py::arg("ucb_beta") = 4.0, py::arg("gnn") = py::none(),
           py::arg("mc_samples") = 128,
           "A campaign over materials as graphs (a GraphBatch, one per candidate) with surrogate 'gnn' or 'gnn-dkl'; "
           "gnn: {'n_members', 'hidden', 'layers', 'max_epochs', 'dkl_dims', 'kind'}.")
      .def(py::init([](const DoubleArray& pool, bool maximize, const std::string& surrogate,
                       const std::string& acquisition, int64_t n_init, uint64_t seed, double ucb_beta,
                       const std::string& kernel, const std::string& outcome_transform, int restarts,
                       int64_t mc_samples, std::vector<std::string> outcomes, std::vector<double> ref_point,
                       std::vector<double> fidelity_costs, int64_t target_fidelity, bool aei_target_first,
                       double aei_max_cheap_share) {
             auto c = make_config(surrogate, acquisition, n_init, seed, ucb_beta, kernel, outcome_transform, restarts,
                                  mc_samples);
             c.outcomes = std::move(outcomes);
             c.ref_point = std::move(ref_point);
             c.fidelity_costs = std::move(fidelity_costs);
             c.target_fidelity = target_fidelity;
             c.aei_target_first = aei_target_first;
             c.aei_max_cheap_share = aei_max_cheap_share;
             return PoolCampaign(to_tensor(pool, 2, "pool"), maximize, c);
           }),
           py::arg("pool"), py::arg("maximize") = true, py::arg("surrogate") = "gp", py::arg("acquisition") = "logei",
           py::arg("n_init") = 2, py::arg("seed") = 0, py::arg("ucb_beta") = 4.0, py::arg("kernel") = "matern52",
           py::arg("outcome_transform") = "auto", py::arg("restarts") = 4, py::arg("mc_samples") = 128,
           py::arg("outcomes") = std::vector<std::string>{}, py::arg("ref_point") = std::vector<double>{},
           py::arg("fidelity_costs") = std::vector<double>{}, py::arg("target_fidelity") = -1,
           py::arg("aei_target_first") = true, py::arg("aei_max_cheap_share") = 0.5,
           "A campaign over the rows of a feature pool [N, d]. outcomes: one entry per measured outcome ('max', "
           "'min', '<= b', '>= b') for multi-objective or constrained campaigns (acquisition qnehvi, qlognehvi, "
           "qparego, or qlognei for one objective); ref_point: the worst acceptable value of each objective. "
           "fidelity_costs: cost per fidelity for a multi-fidelity pool whose last column is the fidelity "
           "(acquisition 'aei'; aei_target_first: choose the input by its EI at the target, then the fidelity, "
           "instead of plain augmented EI over every row; aei_max_cheap_share: the most of the cost the cheaper "
           "fidelities may take).")
      .def("ask", [](PoolCampaign& c, int64_t q) {
             std::vector<int64_t> rows;
             {
               py::gil_scoped_release release;
               rows = c.ask(q);
             }
             return to_numpy_index(rows);
           }, py::arg("q") = 1, "Proposes q pool rows (marked pending).")
      .def("tell", py::overload_cast<int64_t, double>(&PoolCampaign::tell), py::arg("index"), py::arg("value"))
      .def("tell_outcomes", &PoolCampaign::tell_outcomes, py::arg("index"), py::arg("outcomes"),
           "Records every outcome of one experiment.")
      .def("tell", py::overload_cast<const std::vector<int64_t>&, const std::vector<double>&>(&PoolCampaign::tell),
           py::arg("indices"), py::arg("values"))
      .def("cancel", &PoolCampaign::cancel, py::arg("index"))
      .def(
          "attach_graphs",
          [](PoolCampaign& c, const GraphBatch& graphs) { c.attach_graphs(std::make_shared<const GraphBatch>(graphs)); },
          py::arg("graphs"), "Gives a loaded graph campaign its graphs back (saves keep rows, not graphs).")
      .def_property_readonly("observed_indices", [](const PoolCampaign& c) { return to_numpy_index(c.observed_indices()); })
      .def_property_readonly("observed_values", [](const PoolCampaign& c) {
             return to_numpy(torch::tensor(c.observed_values(), torch::kFloat64));
           })
      .def_property_readonly("pending", [](const PoolCampaign& c) { return to_numpy_index(c.pending()); })
      .def_property_readonly("observed_outcomes", [](const PoolCampaign& c) { return to_numpy(c.observed_outcomes()); })
      .def_property_readonly("num_outcomes", &PoolCampaign::num_outcomes)
      .def_property_readonly("cost_spent", &PoolCampaign::cost_spent,
                             "Multi-fidelity: total cost of the results told so far.")
      .def_property_readonly("outcomes", [](const PoolCampaign& c) {
             std::vector<std::string> out;
             for (const auto& o : c.outcomes()) out.push_back(to_string(o));
             return out;
           })
      .def("pareto_front", [](const PoolCampaign& c) { return to_numpy_index(c.pareto_front()); },
           "Observed rows that meet every constraint and that no other such row dominates.")
      .def_property_readonly("pool_size", &PoolCampaign::pool_size)
      .def_property_readonly("maximize", &PoolCampaign::maximize)
      .def_property_readonly("ask_count", &PoolCampaign::ask_count)
      .def("best", &PoolCampaign::best, "(row, value) of the best result so far.")
      .def("save", &PoolCampaign::save, py::arg("path"), "Saves full state: .h5/.hdf5 as HDF5, otherwise JSON.")
      .def_static("load", &PoolCampaign::load, py::arg("path"))
      .def("to_json", &PoolCampaign::to_json)
      .def_static("from_json", &PoolCampaign::from_json, py::arg("text"), py::arg("origin") = "<string>");

  py::class_<SpaceCampaign>(m, "SpaceCampaign",
                            "A Bayesian-optimisation campaign over a continuous or mixed DesignSpace.")
      .def(py::init([](const DesignSpace& space, bool maximize, const std::string& surrogate,
                       const std::string& acquisition, int64_t n_init, uint64_t seed, double ucb_beta,
                       const std::string& kernel, const std::string& outcome_transform, int restarts,
                       int64_t mc_samples, std::vector<std::string> outcomes, std::vector<double> ref_point,
                       const py::object& optimizer) {
             auto c = make_config(surrogate, acquisition, n_init, seed, ucb_beta, kernel, outcome_transform, restarts,
                                  mc_samples);
             c.outcomes = std::move(outcomes);
             c.ref_point = std::move(ref_point);
             c.optimizer = optimizer_config(optimizer);
             return SpaceCampaign(space, maximize, c);
           }),
           py::arg("space"), py::arg("maximize") = true, py::arg("surrogate") = "gp", py::arg("acquisition") = "logei",
           py::arg("n_init") = 4, py::arg("seed") = 0, py::arg("ucb_beta") = 4.0, py::arg("kernel") = "matern52",
           py::arg("outcome_transform") = "auto", py::arg("restarts") = 4, py::arg("mc_samples") = 128,
           py::arg("outcomes") = std::vector<std::string>{}, py::arg("ref_point") = std::vector<double>{},
           py::arg("optimizer") = py::none(),
           "surrogate 'gp' or 'random'; acquisition any of sozai.bo.acquisition_names() (or qnehvi, qlognehvi, "
           "qparego with several outcomes); optimizer: {'restarts', 'raw_samples', 'max_iter', 'history', "
           "'rounds'} of the acquisition optimiser.")
      .def("ask", [](SpaceCampaign& c, int64_t q) {
             torch::Tensor t;
             {
               py::gil_scoped_release release;
               t = c.ask(q);
             }
             return to_numpy(t);
           }, py::arg("q") = 1, "Proposes q raw candidates [q, raw_width] (marked pending).")
      .def("tell", [](SpaceCampaign& c, const DoubleArray& candidates, const DoubleArray& values) {
             auto C = to_tensor(candidates, 2, "candidates");
             auto V = values.ndim() == 1 ? to_tensor(values, 1, "values") : to_tensor(values, 2, "values");
             c.tell(C, V);
           }, py::arg("candidates"), py::arg("values"),
           "Records results: candidates [n, raw_width], values [n] or [n, num_outcomes].")
      .def("tell_outcomes", [](SpaceCampaign& c, const DoubleArray& candidate, const std::vector<double>& outcomes) {
             c.tell_outcomes(candidate_vector(candidate), outcomes);
           }, py::arg("candidate"), py::arg("outcomes"))
      .def("cancel", [](SpaceCampaign& c, const DoubleArray& candidate) { c.cancel(candidate_vector(candidate)); },
           py::arg("candidate"))
      .def_property_readonly("space", &SpaceCampaign::space)
      .def_property_readonly("observed_candidates", [](const SpaceCampaign& c) { return to_numpy(c.observed_candidates()); })
      .def_property_readonly("observed_outcomes", [](const SpaceCampaign& c) { return to_numpy(c.observed_outcomes()); })
      .def_property_readonly("pending", [](const SpaceCampaign& c) { return to_numpy(c.pending()); })
      .def_property_readonly("num_observed", &SpaceCampaign::num_observed)
      .def_property_readonly("num_outcomes", &SpaceCampaign::num_outcomes)
      .def_property_readonly("outcomes", [](const SpaceCampaign& c) {
             std::vector<std::string> out;
             for (const auto& o : c.outcomes()) out.push_back(to_string(o));
             return out;
           })
      .def_property_readonly("maximize", &SpaceCampaign::maximize)
      .def_property_readonly("ask_count", &SpaceCampaign::ask_count)
      .def("best", &SpaceCampaign::best, "(row of observed_candidates, value) of the best result so far.")
      .def("pareto_front", [](const SpaceCampaign& c) { return to_numpy_index(c.pareto_front()); },
           "Rows of observed_candidates that meet every constraint and that no other such row dominates.")
      .def("save", &SpaceCampaign::save, py::arg("path"), "Saves full state, the space included, as JSON.")
      .def_static("load", &SpaceCampaign::load, py::arg("path"))
      .def("to_json", &SpaceCampaign::to_json)
      .def_static("from_json", &SpaceCampaign::from_json, py::arg("text"), py::arg("origin") = "<string>");

  m.def(
      "pool_campaign",
      [](const GraphBatch& graphs, const DoubleArray& y, bool maximize, int64_t budget, uint64_t seed,
         const std::string& surrogate, const std::string& acquisition, int64_t q, int64_t n_init,
         const py::object& gnn) {
        auto yt = to_tensor(y, 1, "y");
        CampaignConfig base;
        base.gnn = gnn_config(gnn);
        auto g = std::make_shared<const GraphBatch>(graphs);
        std::vector<int64_t> order;
        {
          py::gil_scoped_release release;
          order = pool_campaign(g, yt, maximize, budget, seed, surrogate, acquisition, q, n_init, &base);
        }
        return order;
      },
      py::arg("graphs"), py::arg("y"), py::arg("maximize"), py::arg("budget"), py::arg("seed") = 0,
      py::arg("surrogate") = "gnn", py::arg("acquisition") = "logei", py::arg("q") = 1, py::arg("n_init") = 2,
      py::arg("gnn") = py::none());
  m.def(
      "pool_campaign",
      [](const DoubleArray& X, const DoubleArray& y, bool maximize, int64_t budget, uint64_t seed,
         const std::string& surrogate, const std::string& acquisition, int64_t q, int64_t n_init,
         int64_t mc_samples) {
        auto Xt = to_tensor(X, 2, "X");
        auto yt = to_tensor(y, 1, "y");
        CampaignConfig base;
        base.mc_samples = mc_samples;
        std::vector<int64_t> order;
        {
          py::gil_scoped_release release;
          order = pool_campaign(Xt, yt, maximize, budget, seed, surrogate, acquisition, q, n_init, &base);
        }
        return order;
      },
      py::arg("X"), py::arg("y"), py::arg("maximize"), py::arg("budget"), py::arg("seed") = 0,
      py::arg("surrogate") = "gp", py::arg("acquisition") = "logei", py::arg("q") = 1, py::arg("n_init") = 2,
      py::arg("mc_samples") = 128);
  m.def(
      "pool_campaign_outcomes",
      [](const DoubleArray& X, const DoubleArray& Y, const std::vector<std::string>& outcomes, int64_t budget,
         uint64_t seed, const std::string& acquisition, int64_t q, int64_t n_init, std::vector<double> ref_point,
         int64_t mc_samples, const std::string& surrogate) {
        auto Xt = to_tensor(X, 2, "X");
        auto Yt = to_tensor(Y, 2, "Y");
        CampaignConfig base;
        base.ref_point = std::move(ref_point);
        base.mc_samples = mc_samples;
        base.surrogate = surrogate;
        std::vector<int64_t> order;
        {
          py::gil_scoped_release release;
          order = pool_campaign_outcomes(Xt, Yt, outcomes, budget, seed, acquisition, q, n_init, &base);
        }
        return order;
      },
      py::arg("X"), py::arg("Y"), py::arg("outcomes"), py::arg("budget"), py::arg("seed") = 0,
      py::arg("acquisition") = "qlognehvi", py::arg("q") = 1, py::arg("n_init") = 2,
      py::arg("ref_point") = std::vector<double>{}, py::arg("mc_samples") = 128, py::arg("surrogate") = "gp");
  m.def(
      "run_pool_benchmark",
      [](const DoubleArray& X, const DoubleArray& y, bool maximize, std::vector<std::string> acquisitions,
         int64_t budget, int64_t seeds, int64_t random_seeds, int64_t q, int64_t n_init, bool stop_when_all_found,
         const std::function<void(const std::string&, int64_t, int64_t, double)>& progress) {
        PoolBenchmarkConfig cfg;
        cfg.acquisitions = std::move(acquisitions);
        cfg.budget = budget;
        cfg.seeds = seeds;
        cfg.random_seeds = random_seeds;
        cfg.q = q;
        cfg.n_init = n_init;
        cfg.stop_when_all_found = stop_when_all_found;
        auto Xt = to_tensor(X, 2, "X");
        auto yt = to_tensor(y, 1, "y");
        PoolBenchmarkResult r;
        {
          py::gil_scoped_release release;  // the progress callback takes the GIL back when called
          r = run_pool_benchmark(Xt, yt, maximize, cfg, progress);
        }
        py::dict out;
        out["pool_size"] = r.pool_size;
        out["budget"] = r.budget;
        out["top_required"] = r.top.required;
        py::list arms;
        for (const auto& a : r.arms) {
          py::dict d;
          d["name"] = a.name;
          d["orders"] = a.orders;
          d["mean_top_fraction"] = a.mean;
          d["best_so_far_mean"] = a.best_so_far_mean;
          d["ef"] = a.ef;
          d["af"] = a.af;
          d["n_to_reach"] = a.n_to_reach;
          d["seconds"] = a.seconds;
          arms.append(d);
        }
        out["arms"] = arms;
        return out;
      },
      py::arg("X"), py::arg("y"), py::arg("maximize"), py::arg("acquisitions"), py::arg("budget"), py::arg("seeds"),
      py::arg("random_seeds"), py::arg("q"), py::arg("n_init"), py::arg("stop_when_all_found"), py::arg("progress"));
  m.def("random_baseline", &random_baseline, py::arg("n"), py::arg("budget"), py::arg("seed") = 0);

  py::class_<TopSet>(m, "TopSet")
      .def_readonly("member", &TopSet::member)
      .def_readonly("required", &TopSet::required);
  m.def("top_set", &top_set, py::arg("y"), py::arg("maximize"), py::arg("fraction") = 0.05);
  m.def("top_fraction_curve", &top_fraction_curve, py::arg("order"), py::arg("top"));
  m.def("mean_curve", &mean_curve, py::arg("curves"), py::arg("length") = 0);
  m.def("experiments_to_reach", &experiments_to_reach, py::arg("curve"), py::arg("target"));
  m.def("enhancement_factor", &enhancement_factor, py::arg("bo_mean"), py::arg("random_mean"), py::arg("i"));
  m.def("acceleration_factor", &acceleration_factor, py::arg("bo_mean"), py::arg("random_mean"), py::arg("target"));
}

}  // namespace sozai
