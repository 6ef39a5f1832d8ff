// sozai.benchmark: campaigns replayed on real pools, and the metrics of
// Liang et al. (2021).
#include "convert.h"

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "core/campaign/benchmark.h"
#include "core/campaign/metrics.h"
#include "core/campaign/pool_campaign.h"
#include "datasets/graph.h"

namespace sozai {

void bind_benchmark(py::module_& root) {
  auto m = root.def_submodule("benchmark", "Campaigns replayed on real pools; EF and AF");
  m.def(
      "pool_campaign",
      [](const GraphBatch& graphs, const DoubleArray& y, int64_t budget, int64_t q, const py::object& maximize,
         const py::kwargs& settings) {
        auto cfg = CampaignConfig::from_json(settings_json(settings, maximize), "settings");
        auto yt = to_tensor(y, -1, "y");
        auto g = std::make_shared<const GraphBatch>(graphs);
        py::gil_scoped_release release;
        return pool_campaign(g, yt, cfg, budget, q);
      },
      py::arg("graphs"), py::arg("y"), py::arg("budget"), py::arg("q") = 1, py::arg("maximize") = py::none());
  m.def(
      "pool_campaign",
      [](const DoubleArray& X, const DoubleArray& Y, int64_t budget, int64_t q, const py::object& maximize,
         const std::vector<std::string>& columns, const std::vector<Prior>& priors, const py::kwargs& settings) {
        auto cfg = CampaignConfig::from_json(settings_json(settings, maximize), "settings");
        auto Xt = to_tensor(X, 2, "X");
        auto Yt = to_tensor(Y, -1, "y");
        py::gil_scoped_release release;
        return pool_campaign(Xt, Yt, cfg, budget, q, columns, priors);
      },
      py::arg("X"), py::arg("y"), py::arg("budget"), py::arg("q") = 1, py::arg("maximize") = py::none(),
      py::arg("columns") = std::vector<std::string>{}, py::arg("priors") = std::vector<Prior>{});
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

  py::class_<TopSet>(m, "TopSet").def_readonly("member", &TopSet::member).def_readonly("required", &TopSet::required);
  m.def("top_set", &top_set, py::arg("y"), py::arg("maximize"), py::arg("fraction") = 0.05);
  m.def("top_fraction_curve", &top_fraction_curve, py::arg("order"), py::arg("top"));
  m.def("mean_curve", &mean_curve, py::arg("curves"), py::arg("length") = 0);
  m.def("experiments_to_reach", &experiments_to_reach, py::arg("curve"), py::arg("target"));
  m.def("enhancement_factor", &enhancement_factor, py::arg("bo_mean"), py::arg("random_mean"), py::arg("i"));
  m.def("acceleration_factor", &acceleration_factor, py::arg("bo_mean"), py::arg("random_mean"), py::arg("target"));
}

}  // namespace sozai
