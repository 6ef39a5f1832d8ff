#include "core/bo/acquisition.h"
#include "core/bo/monte_carlo.h"
#include "core/bo/space_batch.h"
#include "common/error.h"
#include "common/strings.h"
#include "models/gp/exact_gp.h"
#include "models/gp/pathwise.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <memory>

namespace sozai {

torch::Tensor select_batch_in_space(const DesignSpace& space, const std::vector<const Surrogate*>& models,
                                    const torch::Tensor& X_observed, const torch::Tensor& Y_observed, int64_t q,
                                    const AcquisitionSpec& spec, const std::vector<Outcome>& outcomes,
                                    const std::vector<double>& ref_point, const torch::Tensor& pending,
                                    const OptimizeConfig& optimizer) {
  SOZAI_CHECK(q >= 1, "select_batch_in_space: q must be >= 1, got ", q);
  SOZAI_CHECK(!models.empty(), "select_batch_in_space: no models");
  SOZAI_CHECK(X_observed.defined() && X_observed.dim() == 2 && X_observed.size(0) >= 1 &&
                  X_observed.size(1) == space.raw_width(),
              "select_batch_in_space: X_observed must be [n >= 1, ", space.raw_width(), "] raw candidates, got ",
              X_observed.defined() ? X_observed.sizes() : at::IntArrayRef{});
  auto Y = Y_observed.dim() == 1 ? Y_observed.unsqueeze(1) : Y_observed;
  SOZAI_CHECK(Y.dim() == 2 && Y.size(0) == X_observed.size(0) && Y.size(1) == static_cast<int64_t>(models.size()),
              "select_batch_in_space: Y_observed must be [", X_observed.size(0), ", ", models.size(), "], got ",
              Y_observed.sizes());
  torch::Tensor P = space.encode(X_observed).new_zeros({0, space.encoded_width()});
  if (pending.defined() && pending.numel() > 0) {
    SOZAI_CHECK(pending.dim() == 2 && pending.size(1) == space.raw_width(), "select_batch_in_space: pending must be [p, ",
                space.raw_width(), "] raw candidates, got ", pending.sizes());
    P = space.encode(pending);
  }
  const auto Xe = space.encode(X_observed);
  const bool single = outcomes.size() <= 1 && models.size() == 1;
  // No outcomes: the spec's direction; otherwise the first outcome's.
  const bool maximize = outcomes.empty() ? spec.maximize : outcomes[0].role == Outcome::Role::Maximize;
  const auto name = to_lower(spec.name);
  std::vector<torch::Tensor> picks;  // encoded
  std::vector<torch::Tensor> raw_picks;
  auto members = [&]() {
    std::vector<torch::Tensor> m = {P};
    for (const auto& p : picks) m.push_back(p.unsqueeze(0));
    return torch::cat(m, 0);
  };
  auto run = [&](const EncodedAcquisition& acq, int64_t j) {
    OptimizeConfig oc = optimizer;
    oc.seed = optimizer.seed + static_cast<uint64_t>(j) * 7919;
    auto r = optimize_acquisition(space, acq, oc);
    raw_picks.push_back(r.candidate);
    picks.push_back(space.encode(r.candidate.unsqueeze(0))[0]);
  };

  if (!single) {
    MultiOutcomeConfig mc;
    mc.kind = spec.name;
    mc.outcomes = outcomes;
    mc.ref_point = ref_point;
    mc.samples = spec.mc_samples;
    mc.seed = spec.seed;
    for (int64_t j = 0; j < q; ++j) {
      auto scorer = std::make_shared<MultiOutcomeScorer>(models, Xe, Y, mc, members(), j);
      run([scorer](const torch::Tensor& X) { return (*scorer)(X); }, j);
    }
  } else if (is_mc_acquisition(name)) {
    const auto& model = *models[0];
    AcquisitionSpec directed = spec;
    directed.maximize = maximize;
    const auto mc = mc_config(directed);
    auto base = mc.kind == MCAcquisitionKind::qLogNEI ? prune_baseline(model, Xe, mc) : Xe.new_zeros({0, Xe.size(1)});
    for (int64_t j = 0; j < q; ++j) {
      auto scorer = std::make_shared<MCStepScorer>(model, base, members(), mc);
      run([scorer](const torch::Tensor& X) { return (*scorer)(X); }, j);
    }
  } else if (name == "thompson") {
    const auto& gp = require_exact_gp(*models[0], name);
    const double sign = maximize ? 1.0 : -1.0;
    for (int64_t j = 0; j < q; ++j) {
      auto path = std::make_shared<GPPathSampler>(gp, 1, spec.seed, 1024, j);
      run([path, sign](const torch::Tensor& X) { return sign * (*path)(X)[0]; }, j);
    }
  } else {
    // Analytic: Kriging believer on a copy of the GP (pending first).
    check_acquisition_name(name);
    auto gp = std::make_shared<ExactGP>(require_exact_gp(*models[0], name));
    AcquisitionParams params;
    params.kind = kernels::acquisition_kind_from_string(name);
    params.maximize = maximize;
    params.beta = spec.beta;
    params.best_f = best_latent_value(*gp, Y.select(1, 0), params.maximize);
    auto believe = [&](const torch::Tensor& x) {
      torch::NoGradGuard no_grad;
      auto m = gp->latent_posterior(x.unsqueeze(0)).mean.reshape({1});
      gp->append_latent(x.unsqueeze(0), m);
      const double v = m.item<double>();
      if (params.kind != AcquisitionKind::UCB)
        params.best_f = params.maximize ? std::max(params.best_f, v) : std::min(params.best_f, v);
    };
    for (int64_t i = 0; i < P.size(0); ++i) believe(P[i]);
    for (int64_t j = 0; j < q; ++j) {
      const auto p = params;
      run([gp, p](const torch::Tensor& X) {
            auto post = gp->latent_posterior(X);
            return analytic_acquisition_differentiable(post.mean.squeeze(1), post.variance.squeeze(1), p);
          },
          j);
      if (j + 1 < q) believe(picks.back());
    }
  }
  return torch::stack(raw_picks, 0);
}

}  // namespace sozai
