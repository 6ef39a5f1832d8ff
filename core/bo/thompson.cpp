// Thompson sampling (registry.cpp: thompson): each pick of a batch is the
// maximiser of its own posterior sample path (models/gp/pathwise.h). Over a
// pool every path is evaluated once, in chunks, keeping a running top-k per
// path, so memory depends on the chunk and the batch size, not the pool,
// and a pool of millions costs one pass. Large batches stay diverse because
// every pick follows a different sample. Pending experiments are never
// picked, but the paths are not conditioned on them.
#include "core/bo/analytic.h"
#include "core/bo/registry.h"
#include "common/error.h"
#include "kernels/acquisition_topk.h"
#include "models/gp/pathwise.h"

#include <ATen/ATen.h>

#include <limits>
#include <memory>

namespace sozai {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// Pick j of a batch anywhere in the space maximises path j.
class PathBatch final : public BatchBuilder {
 public:
  PathBatch(const ExactGP& gp, double sign, uint64_t seed, int64_t features)
      : gp_(gp), sign_(sign), seed_(seed), features_(features) {}
  torch::Tensor score(const torch::Tensor& X) override {
    if (!path_) path_ = std::make_unique<GPPathSampler>(gp_, 1, seed_, features_, pick_);
    return sign_ * (*path_)(X)[0];
  }
  void add(const torch::Tensor&) override {
    ++pick_;
    path_.reset();
  }

 private:
  const ExactGP& gp_;
  double sign_;
  uint64_t seed_;
  int64_t features_;
  int64_t pick_ = 0;
  std::unique_ptr<GPPathSampler> path_;
};

/// Every path over the pool in one pass: path j keeps its best `picks` free
/// rows (at most picks - 1 of them can go to earlier paths); pick j is then
/// path j's best row still free.
class PathsOverPool final : public PoolBatchBuilder {
 public:
  PathsOverPool(const ExactGP& gp, const torch::Tensor& candidates, const torch::Tensor& free, int64_t q, double sign,
                uint64_t seed, int64_t features, int64_t chunk)
      : N_(candidates.size(0)) {
    const int64_t picks = std::min<int64_t>(q, free.sum().item<int64_t>());
    if (picks == 0) return;
    GPPathSampler paths(gp, picks, seed, features);
    for (int64_t j = 0; j < picks; ++j) best_.emplace_back(picks);
    for (int64_t s = 0; s < N_; s += chunk) {
      const int64_t e = std::min(s + chunk, N_);
      auto m = free.slice(0, s, e);
      if (!m.any().item<bool>()) continue;
      auto f = sign * paths(candidates.slice(0, s, e));  // [picks, n]
      f = f.masked_fill(m.to(f.device()).logical_not().unsqueeze(0), kNegInf).to(torch::kCPU);
      for (int64_t j = 0; j < picks; ++j) best_[j].push_scores(f[j], s);
    }
  }
  int64_t chunk() const override { return std::max<int64_t>(N_, 1); }
  torch::Tensor score(const torch::Tensor& rows) override {
    auto dense = torch::full({N_}, kNegInf, torch::kFloat64);
    if (pick_ < static_cast<int64_t>(best_.size())) {
      const auto& tk = best_[pick_].best();
      dense.index_put_({tk.indices.to(torch::kCPU)}, tk.values.to(torch::kCPU, torch::kFloat64));
    }
    return dense.index_select(0, rows.to(torch::kCPU));
  }
  void add(int64_t) override { ++pick_; }

 private:
  int64_t N_;
  int64_t pick_ = 0;
  std::vector<kernels::RunningTopK> best_;
};

class ThompsonAcquisition final : public Acquisition {
 public:
  ThompsonAcquisition(const AcquisitionSpec& spec, const Surrogate& model)
      : Acquisition(spec), gp_(require_exact_gp(model, "thompson")),
        sign_(spec.outcomes.front().maximizes() ? 1.0 : -1.0) {}

  /// The first sample path's value at each candidate (q = 1).
  torch::Tensor operator()(const torch::Tensor& X) const override {
    SOZAI_CHECK(X.defined() && X.dim() == 3 && X.size(1) == 1,
                "thompson values one candidate at a time on one sample path: X must be [b, 1, d], got ",
                X.defined() ? X.sizes() : at::IntArrayRef{});
    return sign_ * GPPathSampler(gp_, 1, spec().seed, spec().sampling.path_features)(X.select(1, 0))[0];
  }
  std::unique_ptr<BatchBuilder> start_batch() const override {
    return std::make_unique<PathBatch>(gp_, sign_, spec().seed, spec().sampling.path_features);
  }
  std::unique_ptr<PoolBatchBuilder> start_pool_batch(const torch::Tensor& candidates, const torch::Tensor& free,
                                                     int64_t q) const override {
    return std::make_unique<PathsOverPool>(gp_, candidates, free, q, sign_, spec().seed,
                                           spec().sampling.path_features, chunk_or(16384));
  }

 private:
  const ExactGP& gp_;
  double sign_;
};

}  // namespace

std::unique_ptr<Acquisition> make_thompson_acquisition(const AcquisitionSpec& spec,
                                                       const std::vector<const Surrogate*>& models,
                                                       const AcquisitionData&) {
  return std::make_unique<ThompsonAcquisition>(spec, *models.front());
}

}  // namespace sozai
