// The multi-outcome acquisitions (registry.cpp: qnehvi, qlognehvi, qparego,
// and qlognei with outcome constraints).
#include "core/bo/multi_objective.h"
#include "core/bo/monte_carlo.h"
#include "core/bo/pareto.h"
#include "core/bo/registry.h"
#include "core/bo/smooth.h"
#include "common/error.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

namespace sozai {

namespace {

/// A multi-outcome acquisition reads its spec directly (the acquisition's
/// own, which outlives every scorer built on it).
using MOConfig = AcquisitionSpec;

uint64_t mix(uint64_t seed, uint64_t k) { return seed ^ (0x9E3779B97F4A7C15ULL * (k + 1)); }

/// Everything about an ask that does not change between picks: which
/// outcomes are objectives, their orientation and normalisation (the
/// reference point maps to 0, the best observed value to about 1), the
/// constraints' smoothing widths, and the pruned baseline.
struct Prepared {
  AcquisitionKind kind;
  std::vector<int64_t> obj, con;
  std::vector<double> sign, ref, scale, eta;  // ref: oriented (sign * original)
  torch::Tensor baseline;                     // [b, d]
};

Prepared prepare(const std::vector<const Surrogate*>& models, const torch::Tensor& X, const torch::Tensor& Y,
                 const MOConfig& c, const torch::Tensor& candidates) {
  Prepared p;
  p.kind = c.kind;
  const int64_t k = static_cast<int64_t>(c.outcomes.size());
  SOZAI_CHECK(k >= 1, "multi-outcome acquisition: no outcomes given");
  SOZAI_CHECK(static_cast<int64_t>(models.size()) == k, "multi-outcome acquisition: ", models.size(),
              " models for ", k, " outcomes");
  for (auto* m : models) SOZAI_CHECK(m != nullptr, "multi-outcome acquisition: a model is missing");
  SOZAI_CHECK(X.defined() && X.dim() == 2 && X.size(0) >= 1 && X.size(1) == candidates.size(1),
              "multi-outcome acquisition: X_observed must be [n >= 1, ", candidates.size(1), "], got ",
              X.defined() ? X.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(Y.defined() && Y.dim() == 2 && Y.size(0) == X.size(0) && Y.size(1) == k,
              "multi-outcome acquisition: Y_observed must be [", X.size(0), ", ", k, "], got ",
              Y.defined() ? Y.sizes() : at::IntArrayRef{});
  for (int64_t i = 0; i < k; ++i) (c.outcomes[i].is_objective() ? p.obj : p.con).push_back(i);
  const int64_t m = static_cast<int64_t>(p.obj.size());
  SOZAI_CHECK(m >= 1, "multi-outcome acquisition: no objective among the outcomes (only constraints)");
  // Which kinds serve how many objectives is the registry's (check_acquisition).
  SOZAI_CHECK(c.ref_point.empty() || static_cast<int64_t>(c.ref_point.size()) == m, "ref_point has ",
              c.ref_point.size(), " values for ", m, " objectives");

  auto Yc = Y.to(torch::kCPU, torch::kFloat64);
  SOZAI_CHECK(torch::isfinite(Yc).all().item<bool>(), "multi-outcome acquisition: Y_observed has non-finite values");
  // Observed feasibility.
  auto feasible = torch::ones({Y.size(0)}, torch::kBool);
  for (auto j : p.con) {
    const auto& o = c.outcomes[j];
    auto col = Yc.select(1, j);
    feasible &= (o.direction == Outcome::Direction::AtMost ? (o.limit - col) : (col - o.limit)) >= 0;
    auto range = (col.max() - col.min()).item<double>();
    p.eta.push_back(c.sampling.eta * (range > 0 ? range : std::max(1.0, std::abs(o.limit))));
  }
  std::vector<bool> maximize;
  for (auto j : p.obj) {
    maximize.push_back(c.outcomes[j].maximizes());
    p.sign.push_back(maximize.back() ? 1.0 : -1.0);
  }
  auto Yobj = Yc.index_select(1, torch::tensor(p.obj, torch::kInt64));
  auto ref = c.ref_point.empty()
                 ? infer_reference_point(feasible.any().item<bool>() ? Yobj.index({feasible}) : Yobj, maximize)
                 : c.ref_point;
  auto oriented = Yobj * torch::tensor(p.sign, torch::kFloat64).unsqueeze(0);
  for (int64_t d = 0; d < m; ++d) {
    p.ref.push_back(p.sign[d] * ref[d]);
    const double top = oriented.select(1, d).max().item<double>();
    p.scale.push_back(top > p.ref[d] ? top - p.ref[d] : std::max(1.0, std::abs(p.ref[d])));
  }

  // Baseline: feasible points by Pareto rank (how many feasible points
  // dominate them), then infeasible ones; at most max_baseline.
  const int64_t n = X.size(0);
  if (n <= c.sampling.max_baseline) {
    p.baseline = X.to(candidates.options());
  } else {
    auto a = oriented.unsqueeze(1), b = oriented.unsqueeze(0);
    auto dominates = ((b >= a).all(2) & (b > a).any(2) & feasible.unsqueeze(0));  // [i, j]: j dominates i
    auto rank = dominates.sum(1).to(torch::kFloat64) + feasible.logical_not().to(torch::kFloat64) * (n + 1);
    auto order = std::get<1>(rank.sort(/*stable=*/true, 0, false)).slice(0, 0, c.sampling.max_baseline);
    p.baseline = X.index_select(0, order.to(X.device())).to(candidates.options());
  }
  return p;
}

/// Scores candidates as the next pick after a fixed set of batch members.
class StepScorer {
 public:
  StepScorer(const std::vector<const Surrogate*>& models, const Prepared& p, const torch::Tensor& batch,
             const MOConfig& c, int64_t pick)
      : models_(models), p_(p), c_(c) {
    const int64_t nb = p.baseline.size(0);
    auto fixed = torch::cat({p.baseline, batch}, 0);
    for (size_t i = 0; i < models.size(); ++i)
      samplers_.emplace_back(*models[i], fixed, normal_base_samples(c.mc_samples, fixed.size(0) + 1, mix(c.seed, i)));
    // Fixed points' samples in original units: [S, fixed] per outcome.
    std::vector<torch::Tensor> f;
    for (size_t i = 0; i < models.size(); ++i) f.push_back(models[i]->untransform_outcome(samplers_[i].fixed_samples()));
    auto Yn = normalised(f);                  // [S, fixed, m]
    auto hard = hard_feasible(f);             // [S, fixed]
    const int64_t S = c.mc_samples;
    if (p.kind == AcquisitionKind::qParEGO) {
      const int64_t m = static_cast<int64_t>(p.obj.size());
      auto gen = at::detail::createCPUGenerator(mix(c.seed ^ 0x5A5A5A5AULL, static_cast<uint64_t>(pick)));
      auto e = -torch::log(at::rand({m}, gen, torch::dtype(torch::kFloat64)).clamp_min(1e-300));
      weights_ = (e / e.sum()).to(Yn.options());
    }
    if (p.kind == AcquisitionKind::qNEHVI || p.kind == AcquisitionKind::qLogNEHVI) {
      auto zero = torch::zeros({static_cast<int64_t>(p.obj.size())}, torch::kFloat64);
      auto Ync = Yn.to(torch::kCPU), hc = hard.to(torch::kCPU);
      for (int64_t s = 0; s < S; ++s) {
        auto pts = Ync[s].index({hc[s]});
        auto front = pts.size(0) > 0 ? pts.index({non_dominated_mask(pts)}) : pts;
        auto b = non_dominated_boxes(front, zero);
        boxes_.push_back({b.lower.to(Yn.device()), b.upper.to(Yn.device())});
      }
    } else {
      auto g = scalarise(Yn);  // [S, fixed]
      auto gb = g.slice(1, 0, nb);
      auto hb = hard.slice(1, 0, nb);
      const double neg_inf = -std::numeric_limits<double>::infinity();
      auto best_feasible = std::get<0>(gb.masked_fill(hb.logical_not(), neg_inf).max(1));
      auto worst = std::get<0>(gb.min(1));
      best_ = torch::where(hb.any(1), best_feasible, worst);
      // The incumbent of each sample: the best feasible of baseline and
      // batch members (the greedy pick's improvement is over it; see
      // monte_carlo.h on why not the joint smooth maximum).
      if (batch.size(0) > 0) {
        auto members = g.slice(1, nb, g.size(1)).masked_fill(hard.slice(1, nb, g.size(1)).logical_not(), neg_inf);
        best_ = torch::maximum(best_, std::get<0>(members.max(1)));
      }
    }
  }

  /// [n] values of candidates [n, d].
  torch::Tensor score(const torch::Tensor& C) const {
    std::vector<torch::Tensor> f;  // [S, n] per outcome
    for (size_t i = 0; i < models_.size(); ++i)
      f.push_back(models_[i]->untransform_outcome(samplers_[i].candidate_samples(C).t()));
    auto Yn = normalised(f);                               // [S, n, m]
    auto logfeas = log_feasibility(f, 0, C.size(0));       // [S, n]
    const double S = static_cast<double>(c_.mc_samples);
    if (p_.kind == AcquisitionKind::qNEHVI || p_.kind == AcquisitionKind::qLogNEHVI) {
      std::vector<torch::Tensor> per_sample;
      for (int64_t s = 0; s < c_.mc_samples; ++s)
        per_sample.push_back(p_.kind == AcquisitionKind::qNEHVI ? hypervolume_improvement(boxes_[s], Yn[s])
                                                    : log_hypervolume_improvement(boxes_[s], Yn[s], c_.sampling.tau));
      auto v = torch::stack(per_sample, 0);  // [S, n]
      if (p_.kind == AcquisitionKind::qNEHVI) return (v * logfeas.exp()).mean(0);
      return torch::logsumexp(v + logfeas, 0) - std::log(S);
    }
    auto g = scalarise(Yn);  // [S, n]
    auto li = bo_detail::log_softplus_tau(g - best_.unsqueeze(1), c_.sampling.tau_relu) + logfeas;
    return torch::logsumexp(li, 0) - std::log(S);
  }

 private:
  /// Objectives oriented and normalised: [S, n, m] from per-outcome [S, n].
  torch::Tensor normalised(const std::vector<torch::Tensor>& f) const {
    std::vector<torch::Tensor> cols;
    for (size_t d = 0; d < p_.obj.size(); ++d) cols.push_back((p_.sign[d] * f[p_.obj[d]] - p_.ref[d]) / p_.scale[d]);
    return torch::stack(cols, 2);
  }
  /// [S, n] bool: every constraint holds in the sample.
  torch::Tensor hard_feasible(const std::vector<torch::Tensor>& f) const {
    auto ok = torch::ones_like(f[0], torch::kBool);
    for (auto j : p_.con) ok &= slack(f[j], j) >= 0;
    return ok;
  }
  /// [S, cols e - s] smoothed log probability of feasibility of columns [s, e).
  torch::Tensor log_feasibility(const std::vector<torch::Tensor>& f, int64_t s, int64_t e) const {
    auto out = torch::zeros_like(f[0].slice(1, s, e));
    for (size_t k = 0; k < p_.con.size(); ++k)
      out = out + torch::log_sigmoid(slack(f[p_.con[k]].slice(1, s, e), p_.con[k]) / p_.eta[k]);
    return out;
  }
  torch::Tensor slack(const torch::Tensor& v, int64_t j) const {
    const auto& o = c_.outcomes[j];
    return o.direction == Outcome::Direction::AtMost ? o.limit - v : v - o.limit;
  }
  /// qparego: augmented Chebyshev; qlognei: the single objective.
  torch::Tensor scalarise(const torch::Tensor& Yn) const {
    if (p_.kind == AcquisitionKind::qLogNEI) return Yn.select(2, 0);
    auto wy = Yn * weights_;
    return std::get<0>(wy.min(2)) + 0.05 * wy.sum(2);
  }

  const std::vector<const Surrogate*>& models_;
  const Prepared& p_;
  const MOConfig& c_;
  std::vector<ConditionedSampler> samplers_;
  std::vector<BoxDecomposition> boxes_;
  torch::Tensor weights_, best_;
};


/// Members: the pending points, then the picks; pick j has its own
/// StepScorer (qParEGO draws its weights from the pick's index).
class MultiOutcomeBatch final : public BatchBuilder {
 public:
  MultiOutcomeBatch(const std::vector<const Surrogate*>& models, const Prepared& p, const MOConfig& c,
                    const torch::Tensor& pending)
      : models_(models), p_(p), c_(c), members_(pending) {}
  torch::Tensor score(const torch::Tensor& X) override {
    if (!scorer_) scorer_ = std::make_unique<StepScorer>(models_, p_, members_.to(X.options()), c_, pick_);
    return scorer_->score(X);
  }
  void add(const torch::Tensor& x) override {
    members_ = torch::cat({members_, x.unsqueeze(0).to(members_.options())}, 0);
    ++pick_;
    scorer_.reset();
  }

 private:
  const std::vector<const Surrogate*>& models_;
  const Prepared& p_;
  const MOConfig& c_;
  torch::Tensor members_;
  int64_t pick_ = 0;
  std::unique_ptr<StepScorer> scorer_;
};

class MultiOutcomeAcquisition final : public Acquisition {
 public:
  MultiOutcomeAcquisition(const AcquisitionSpec& spec, const std::vector<const Surrogate*>& models,
                          const AcquisitionData& data)
      : Acquisition(spec), models_(models), c_(this->spec()) {
    SOZAI_CHECK(data.Y.defined(), info().name, ": needs the observed outcomes (Y_observed)");
    auto Y = data.Y.dim() == 1 ? data.Y.unsqueeze(1) : data.Y;
    p_ = prepare(models_, data.X, Y, c_, data.X);
    pending_ = data.X_pending.defined() && data.X_pending.numel() > 0 ? data.X_pending.to(data.X.options())
                                                                       : data.X.new_zeros({0, data.X.size(1)});
  }

  /// The value of each q-batch: the picks' values one after another, each
  /// given the pending points and the picks before it (per posterior
  /// sample, the hypervolume improvement of a batch is the sum of these
  /// steps, and so is the improvement over the incumbent), summed (qNEHVI)
  /// or log-summed (the log kinds).
  torch::Tensor operator()(const torch::Tensor& X) const override {
    SOZAI_CHECK(X.defined() && X.dim() == 3 && X.size(1) >= 1, info().name,
                ": X must be [b, q, d] with q >= 1, got ", X.defined() ? X.sizes() : at::IntArrayRef{});
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < X.size(0); ++i) {
      MultiOutcomeBatch batch(models_, p_, c_, pending_);
      std::vector<torch::Tensor> steps;
      for (int64_t j = 0; j < X.size(1); ++j) {
        auto x = X[i][j];
        steps.push_back(batch.score(x.unsqueeze(0)).reshape({}));
        batch.add(x);
      }
      auto v = torch::stack(steps);
      out.push_back(c_.kind == AcquisitionKind::qNEHVI ? v.sum() : torch::logsumexp(v, 0));
    }
    return torch::stack(out);
  }

  std::unique_ptr<BatchBuilder> start_batch() const override {
    return std::make_unique<MultiOutcomeBatch>(models_, p_, c_, pending_);
  }
  int64_t pool_chunk() const override { return chunk_or(256); }

 private:
  std::vector<const Surrogate*> models_;
  const MOConfig& c_;  // the acquisition's own spec
  Prepared p_;
  torch::Tensor pending_;
};

}  // namespace

std::vector<double> infer_reference_point(const torch::Tensor& Yobj, const std::vector<bool>& maximize) {
  SOZAI_CHECK(Yobj.defined() && Yobj.dim() == 2 && Yobj.size(0) >= 1 &&
                  Yobj.size(1) == static_cast<int64_t>(maximize.size()),
              "infer_reference_point: Y must be [n >= 1, ", maximize.size(), "]");
  std::vector<double> sign;
  for (bool b : maximize) sign.push_back(b ? 1.0 : -1.0);
  auto s = torch::tensor(sign, torch::kFloat64).unsqueeze(0);
  auto oriented = Yobj.to(torch::kCPU, torch::kFloat64) * s;
  auto front = oriented.index({non_dominated_mask(oriented)});
  auto nadir = std::get<0>(front.min(0)), top = std::get<0>(front.max(0));
  std::vector<double> ref;
  for (size_t d = 0; d < maximize.size(); ++d) {
    const double lo = nadir[d].item<double>(), hi = top[d].item<double>();
    const double range = hi > lo ? hi - lo : std::max(std::abs(lo), 1.0);
    ref.push_back(sign[d] * (lo - 0.1 * range));
  }
  return ref;
}

std::unique_ptr<Acquisition> make_multi_outcome_acquisition(const AcquisitionSpec& spec,
                                                            const std::vector<const Surrogate*>& models,
                                                            const AcquisitionData& data) {
  return std::make_unique<MultiOutcomeAcquisition>(spec, models, data);
}

}  // namespace sozai
