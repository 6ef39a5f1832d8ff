#include "convert.h"

#include <pybind11/stl.h>

#include "core/bo/acquisition.h"
#include "core/bo/monte_carlo.h"
#include "core/bo/select.h"
#include "core/bo/thompson.h"
#include "core/bo/optimize.h"
#include "core/bo/multi_fidelity.h"
#include "core/bo/pareto.h"
#include "core/bo/space_batch.h"
#include "core/space/design_space.h"
#include "models/gp/exact_gp.h"

namespace sozai {

namespace {
using BoolArray = py::array_t<bool, py::array::c_style | py::array::forcecast>;

torch::Tensor bool_mask(const BoolArray& available, int64_t n) {
  SOZAI_CHECK(available.ndim() == 1 && available.shape(0) == n, "available must be a bool array of length ", n);
  return torch::from_blob(const_cast<bool*>(available.data()), {n}, torch::kBool).clone();
}

MCAcquisitionConfig mc_config(const std::string& kind, bool maximize, int64_t samples, uint64_t seed, double beta) {
  MCAcquisitionConfig c;
  c.kind = mc_acquisition_kind_from_string(kind);
  c.maximize = maximize;
  c.samples = samples;
  c.seed = seed;
  c.beta = beta;
  return c;
}
}  // namespace

void bind_bo(py::module_& root) {
  auto m = root.def_submodule("bo", "Acquisition functions and batch selection");
  m.def(
      "acquisition",
      [](const ExactGP& model, const DoubleArray& X, const std::string& kind, double best_f, bool maximize,
         double beta) {
        AcquisitionParams p;
        p.kind = kernels::acquisition_kind_from_string(kind);
        p.best_f = best_f;
        p.maximize = maximize;
        p.beta = beta;
        return to_numpy(AnalyticAcquisition(model, p)(to_tensor(X, 2, "X")));
      },
      py::arg("model"), py::arg("X"), py::arg("kind") = "logei", py::arg("best_f") = 0.0, py::arg("maximize") = true,
      py::arg("beta") = 4.0, "Analytic acquisition of a fitted model at X [n, d]; best_f in the latent space.");
  m.def(
      "best_latent_value",
      [](const ExactGP& model, const DoubleArray& y, bool maximize) {
        return best_latent_value(model, to_tensor(y, -1, "y"), maximize);
      },
      py::arg("model"), py::arg("y"), py::arg("maximize") = true);
  m.def(
      "select_batch_from_pool",
      [](const ExactGP& model, const DoubleArray& candidates, const BoolArray& available,
         int64_t q, const std::string& kind, double best_f, bool maximize, double beta, std::vector<int64_t> pending) {
        auto C = to_tensor(candidates, 2, "candidates");
        auto mask = bool_mask(available, C.size(0));
        AcquisitionParams p;
        p.kind = kernels::acquisition_kind_from_string(kind);
        p.best_f = best_f;
        p.maximize = maximize;
        p.beta = beta;
        std::vector<int64_t> rows;
        {
          py::gil_scoped_release release;
          rows = select_batch_from_pool(model, C, mask, q, p, pending);
        }
        return to_numpy_index(rows);
      },
      py::arg("model"), py::arg("candidates"), py::arg("available"), py::arg("q"), py::arg("kind") = "logei",
      py::arg("best_f") = 0.0, py::arg("maximize") = true, py::arg("beta") = 4.0,
      py::arg("pending") = std::vector<int64_t>{},
      "Kriging-believer batch of q pool rows maximising the acquisition.");
  m.def("acquisition_names", &acquisition_names, "Every acquisition name a campaign accepts.");
  m.def(
      "normal_base_samples",
      [](int64_t samples, int64_t dim, uint64_t seed) { return to_numpy(normal_base_samples(samples, dim, seed)); },
      py::arg("samples"), py::arg("dim"), py::arg("seed") = 0,
      "[samples, dim] quasi-random standard-normal base samples (scrambled Sobol, inverse CDF).");
  m.def(
      "mc_acquisition",
      [](const ExactGP& model, const DoubleArray& X, const DoubleArray& X_baseline, const std::string& kind,
         bool maximize, int64_t samples, uint64_t seed, double beta, const py::object& X_pending) {
        torch::Tensor P;
        if (!X_pending.is_none()) P = to_tensor(X_pending.cast<DoubleArray>(), 2, "X_pending");
        auto Xt = to_tensor(X, 3, "X");
        auto B = to_tensor(X_baseline, 2, "X_baseline");
        torch::Tensor v;
        {
          py::gil_scoped_release release;
          torch::NoGradGuard no_grad;
          v = mc_acquisition(model, Xt, B, mc_config(kind, maximize, samples, seed, beta), P);
        }
        return to_numpy(v);
      },
      py::arg("model"), py::arg("X"), py::arg("X_baseline"), py::arg("kind") = "qlognei", py::arg("maximize") = true,
      py::arg("samples") = 128, py::arg("seed") = 0, py::arg("beta") = 4.0, py::arg("X_pending") = py::none(),
      "Monte-Carlo acquisition of q-batches X [b, q, d] -> [b]; qlognei improves on X_baseline [n, d].");
  m.def(
      "select_batch_mc",
      [](const ExactGP& model, const DoubleArray& candidates, const BoolArray& available, int64_t q,
         const DoubleArray& X_baseline, const std::string& kind, bool maximize, int64_t samples, uint64_t seed,
         double beta, std::vector<int64_t> pending) {
        auto C = to_tensor(candidates, 2, "candidates");
        auto mask = bool_mask(available, C.size(0));
        auto B = to_tensor(X_baseline, 2, "X_baseline");
        std::vector<int64_t> rows;
        {
          py::gil_scoped_release release;
          rows = select_batch_mc(model, C, mask, q, B, mc_config(kind, maximize, samples, seed, beta), pending);
        }
        return to_numpy_index(rows);
      },
      py::arg("model"), py::arg("candidates"), py::arg("available"), py::arg("q"), py::arg("X_baseline"),
      py::arg("kind") = "qlognei", py::arg("maximize") = true, py::arg("samples") = 128, py::arg("seed") = 0,
      py::arg("beta") = 4.0, py::arg("pending") = std::vector<int64_t>{},
      "Greedy-sequential Monte-Carlo batch of q pool rows, each pick scored jointly with pending rows and earlier picks.");
  m.def(
      "prune_baseline",
      [](const ExactGP& model, const DoubleArray& X_baseline, bool maximize, int64_t samples, uint64_t seed,
         int64_t max_baseline) {
        auto c = mc_config("qlognei", maximize, samples, seed, 4.0);
        c.max_baseline = max_baseline;
        return to_numpy(prune_baseline(model, to_tensor(X_baseline, 2, "X_baseline"), c));
      },
      py::arg("model"), py::arg("X_baseline"), py::arg("maximize") = true, py::arg("samples") = 128,
      py::arg("seed") = 0, py::arg("max_baseline") = 64,
      "Observed points that are the best in at least one joint posterior sample.");
  m.def(
      "select_batch_thompson",
      [](const ExactGP& model, const DoubleArray& candidates, const BoolArray& available, int64_t q, bool maximize,
         uint64_t seed, int64_t features, int64_t chunk, std::vector<int64_t> pending) {
        auto C = to_tensor(candidates, 2, "candidates");
        auto mask = bool_mask(available, C.size(0));
        ThompsonConfig tc;
        tc.maximize = maximize;
        tc.seed = seed;
        tc.features = features;
        tc.chunk = chunk;
        std::vector<int64_t> rows;
        {
          py::gil_scoped_release release;
          rows = select_batch_thompson(model, C, mask, q, tc, pending);
        }
        return to_numpy_index(rows);
      },
      py::arg("model"), py::arg("candidates"), py::arg("available"), py::arg("q"), py::arg("maximize") = true,
      py::arg("seed") = 0, py::arg("features") = 1024, py::arg("chunk") = 16384,
      py::arg("pending") = std::vector<int64_t>{},
      "Thompson sampling: q pool rows, each the maximiser of its own GP sample path, scored in chunks.");
  m.def(
      "select_batch_in_space",
      [](const DesignSpace& space, const std::vector<ExactGP*>& models, const DoubleArray& X_observed,
         const DoubleArray& Y_observed, int64_t q, const std::string& acquisition,
         const std::vector<std::string>& outcomes, std::vector<double> ref_point, const py::object& pending,
         int64_t mc_samples, uint64_t seed, double beta, int64_t restarts, int64_t raw_samples, int64_t max_iter,
         bool maximize) {
        std::vector<const Surrogate*> ms(models.begin(), models.end());
        std::vector<Outcome> outs;
        for (size_t i = 0; i < outcomes.size(); ++i) outs.push_back(outcome_from_string(outcomes[i], str("outcome ", i)));
        AcquisitionSpec spec;
        spec.name = acquisition;
        spec.mc_samples = mc_samples;
        spec.seed = seed;
        spec.beta = beta;
        spec.maximize = maximize;
        OptimizeConfig oc;
        oc.restarts = restarts;
        oc.raw_samples = raw_samples;
        oc.max_iter = max_iter;
        oc.seed = seed;
        auto X = to_tensor(X_observed, 2, "X_observed");
        auto Y = to_tensor(Y_observed, -1, "Y_observed");
        torch::Tensor P;
        if (!pending.is_none()) P = to_tensor(pending.cast<DoubleArray>(), 2, "pending");
        torch::Tensor out;
        {
          py::gil_scoped_release release;
          out = select_batch_in_space(space, ms, X, Y, q, spec, outs, ref_point, P, oc);
        }
        return to_numpy(out);
      },
      py::arg("space"), py::arg("models"), py::arg("X_observed"), py::arg("Y_observed"), py::arg("q") = 1,
      py::arg("acquisition") = "logei", py::arg("outcomes") = std::vector<std::string>{},
      py::arg("ref_point") = std::vector<double>{}, py::arg("pending") = py::none(), py::arg("mc_samples") = 128,
      py::arg("seed") = 0, py::arg("beta") = 4.0, py::arg("restarts") = 8, py::arg("raw_samples") = 256,
      py::arg("max_iter") = 100, py::arg("maximize") = true,
      "q new raw candidates from a design space: each pick maximises the acquisition (multi-start projected "
      "L-BFGS, rounding and discrete search) given pending and earlier picks. models: one fitted ExactGP per "
      "outcome, on space.encode(X_observed); maximize: the direction when outcomes is empty.");
  m.def(
      "project_to_space",
      [](const DesignSpace& space, const DoubleArray& candidate) {
        return to_numpy(project_to_space(space, to_tensor(candidate, 1, "candidate")));
      },
      py::arg("space"), py::arg("candidate"),
      "Euclidean projection of a raw candidate's continuous, integer and composition values onto the space's "
      "bounds, simplexes and linear constraints.");
  m.def(
      "non_dominated_mask",
      [](const DoubleArray& Y) {
        auto mask = non_dominated_mask(to_tensor(Y, 2, "Y"));
        py::array_t<bool> out(mask.size(0));
        std::copy(mask.data_ptr<bool>(), mask.data_ptr<bool>() + mask.size(0), out.mutable_data());
        return out;
      },
      py::arg("Y"), "[n] bool: rows of Y [n, m] that no other row dominates (all objectives maximised).");
  m.def(
      "hypervolume",
      [](const DoubleArray& Y, const DoubleArray& ref) {
        return hypervolume(to_tensor(Y, 2, "Y"), to_tensor(ref, 1, "ref"));
      },
      py::arg("Y"), py::arg("ref"), "Exact hypervolume dominated by Y [n, m] above ref [m] (maximisation).");
  m.def(
      "hypervolume_improvement",
      [](const DoubleArray& front, const DoubleArray& ref, const DoubleArray& Y) {
        auto boxes = non_dominated_boxes(to_tensor(front, 2, "front"), to_tensor(ref, 1, "ref"));
        return to_numpy(hypervolume_improvement(boxes, to_tensor(Y, 2, "Y")));
      },
      py::arg("front"), py::arg("ref"), py::arg("Y"),
      "Hypervolume each row of Y would add to the front (box decomposition).");
  m.def("infer_reference_point", [](const DoubleArray& Y, const std::vector<bool>& maximize) {
        return infer_reference_point(to_tensor(Y, 2, "Y"), maximize);
      }, py::arg("Y"), py::arg("maximize"),
      "Nadir of the observed Pareto front moved 10% of its range towards worse (BoTorch's rule).");
  m.def(
      "select_batch_multi",
      [](const std::vector<ExactGP*>& models, const DoubleArray& candidates, const BoolArray& available, int64_t q,
         const DoubleArray& X_observed, const DoubleArray& Y_observed, const std::vector<std::string>& outcomes,
         const std::string& acquisition, std::vector<double> ref_point, int64_t samples, uint64_t seed,
         std::vector<int64_t> pending) {
        std::vector<const Surrogate*> ms(models.begin(), models.end());
        MultiOutcomeConfig c;
        c.kind = acquisition;
        for (size_t i = 0; i < outcomes.size(); ++i) c.outcomes.push_back(outcome_from_string(outcomes[i], str("outcome ", i)));
        c.ref_point = std::move(ref_point);
        c.samples = samples;
        c.seed = seed;
        auto C = to_tensor(candidates, 2, "candidates");
        auto mask = bool_mask(available, C.size(0));
        auto X = to_tensor(X_observed, 2, "X_observed");
        auto Y = to_tensor(Y_observed, 2, "Y_observed");
        std::vector<int64_t> rows;
        {
          py::gil_scoped_release release;
          rows = select_batch_multi(ms, C, mask, q, X, Y, c, pending);
        }
        return to_numpy_index(rows);
      },
      py::arg("models"), py::arg("candidates"), py::arg("available"), py::arg("q"), py::arg("X_observed"),
      py::arg("Y_observed"), py::arg("outcomes"), py::arg("acquisition") = "qlognehvi",
      py::arg("ref_point") = std::vector<double>{}, py::arg("samples") = 128, py::arg("seed") = 0,
      py::arg("pending") = std::vector<int64_t>{},
      "Pool batch for several outcomes (qnehvi, qlognehvi, qparego, or qlognei with constraints); one ExactGP "
      "per outcome.");
  auto mf_config = [](int64_t target, std::vector<double> costs, bool maximize) {
    MultiFidelityConfig c;
    c.target = target;
    c.costs = std::move(costs);
    c.maximize = maximize;
    return c;
  };
  m.def(
      "log_augmented_ei",
      [mf_config](const MultiTaskGP& model, const DoubleArray& candidates, const DoubleArray& X_observed,
                  std::vector<double> costs, int64_t target, bool maximize) {
        return to_numpy(log_augmented_ei(model, to_tensor(candidates, 2, "candidates"),
                                         to_tensor(X_observed, 2, "X_observed"), mf_config(target, costs, maximize)));
      },
      py::arg("model"), py::arg("candidates"), py::arg("X_observed"), py::arg("costs"), py::arg("target") = -1,
      py::arg("maximize") = true,
      "log augmented EI (Huang et al. 2006) of candidates [n, d + 1] (fidelity last): information about the "
      "target fidelity per unit cost.");
  m.def(
      "select_batch_multi_fidelity",
      [mf_config](const MultiTaskGP& model, const DoubleArray& candidates, const BoolArray& available, int64_t q,
                  const DoubleArray& X_observed, std::vector<double> costs, int64_t target, bool maximize,
                  std::vector<int64_t> pending, bool target_first, double max_cheap_share) {
        auto C = to_tensor(candidates, 2, "candidates");
        auto mask = bool_mask(available, C.size(0));
        auto X = to_tensor(X_observed, 2, "X_observed");
        auto cfg = mf_config(target, costs, maximize);
        cfg.target_first = target_first;
        cfg.max_cheap_share = max_cheap_share;
        std::vector<int64_t> rows;
        {
          py::gil_scoped_release release;
          rows = select_batch_multi_fidelity(model, C, mask, q, X, cfg, pending);
        }
        return to_numpy_index(rows);
      },
      py::arg("model"), py::arg("candidates"), py::arg("available"), py::arg("q"), py::arg("X_observed"),
      py::arg("costs"), py::arg("target") = -1, py::arg("maximize") = true,
      py::arg("pending") = std::vector<int64_t>{}, py::arg("target_first") = true,
      py::arg("max_cheap_share") = 0.5,
      "Pool rows (input at a fidelity) by augmented EI per unit cost, Kriging-believer batches; target_first: "
      "the input by its EI at the target, then its fidelity by AEI.");
}

}  // namespace sozai
