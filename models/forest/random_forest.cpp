#include "models/forest/random_forest.h"
#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace sozai {

RandomForest::RandomForest(RandomForestConfig config)
    : config_(config), transform_(OutcomeTransformConfig{"standardize"}) {
  SOZAI_CHECK(config_.trees >= 1 && config_.min_leaf >= 1 && config_.max_depth >= 0, "RandomForest: trees and "
              "min_leaf must be >= 1 and max_depth >= 0");
  SOZAI_CHECK(config_.max_features > 0 && config_.max_features <= 1, "RandomForest: max_features must be in (0, 1], got ",
              config_.max_features);
}

void RandomForest::fit(const Dataset& data) {
  SOZAI_CHECK(data.X.defined() && data.X.dim() == 2 && data.X.size(0) >= 2 && data.X.size(1) >= 1,
              "RandomForest: X must be [n >= 2, d], got ", data.X.defined() ? data.X.sizes() : at::IntArrayRef{});
  auto Xc = data.X.to(torch::kCPU, torch::kFloat64).contiguous();
  auto yc = data.Y.reshape({-1}).to(torch::kCPU, torch::kFloat64).contiguous();
  SOZAI_CHECK(yc.size(0) == Xc.size(0), "RandomForest: X has ", Xc.size(0), " rows but Y has ", yc.size(0));
  SOZAI_CHECK(torch::isfinite(Xc).all().item<bool>() && torch::isfinite(yc).all().item<bool>(),
              "RandomForest: X and Y must be finite");
  transform_ = OutcomeTransform(OutcomeTransformConfig{"standardize"});
  transform_.fit(yc);
  auto zc = transform_.forward(yc).contiguous();
  const int64_t n = Xc.size(0);
  d_ = Xc.size(1);
  const double* X = Xc.data_ptr<double>();
  // Column-major copy for the split search: a node reads one feature of
  // its rows at a time.
  auto Xt = Xc.t().contiguous();
  const double* XT = Xt.data_ptr<double>();
  const double* z = zc.data_ptr<double>();
  const int64_t tried = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(config_.max_features * d_)));
  std::mt19937_64 rng(config_.seed);
  trees_.assign(config_.trees, {});
  std::vector<double> oob_sum(n, 0.0);
  std::vector<int64_t> oob_count(n, 0);
  std::vector<int64_t> features(d_);
  std::iota(features.begin(), features.end(), 0);
  std::vector<std::pair<double, int64_t>> order;
  std::vector<double> values;
  std::vector<char> constant;
  for (auto& tree : trees_) {
    std::vector<int64_t> rows(n);
    std::vector<char> in_bag(n, 0);
    if (config_.bootstrap) {
      std::uniform_int_distribution<int64_t> pick(0, n - 1);
      for (auto& r : rows) r = pick(rng), in_bag[r] = 1;
      // In increasing order, kept so in every node (stable partitions): the
      // split search then reads each column forwards, not at random.
      std::sort(rows.begin(), rows.end());
    } else {
      std::iota(rows.begin(), rows.end(), 0);
      std::fill(in_bag.begin(), in_bag.end(), 1);
    }
    // Grow depth-first: (node, begin, end, depth) over `rows`.
    struct Task { int32_t node; int64_t begin, end, depth; };
    tree.push_back({});
    // constant[node * d + f]: feature f is constant on the node's rows (so
    // on its children's too; they skip it, as scikit-learn's splitter does).
    constant.assign(d_, 0);
    std::vector<Task> stack = {{0, 0, n, 0}};
    while (!stack.empty()) {
      const Task t = stack.back();
      stack.pop_back();
      const int64_t m = t.end - t.begin;
      double sum = 0.0, zlo = z[rows[t.begin]], zhi = zlo;
      for (int64_t i = t.begin; i < t.end; ++i) {
        sum += z[rows[i]];
        zlo = std::min(zlo, z[rows[i]]), zhi = std::max(zhi, z[rows[i]]);
      }
      tree[t.node].value = sum / static_cast<double>(m);
      const bool depth_left = config_.max_depth == 0 || t.depth < config_.max_depth;
      // A pure node is a leaf (no split can gain), as in scikit-learn.
      if (m < 2 * config_.min_leaf || !depth_left || zlo == zhi) continue;
      double best_gain = 1e-12, best_thr = 0.0;
      int64_t best_feature = -1;
      const double parent = sum * sum / static_cast<double>(m);
      // The split after the first nl rows in increasing order of feature f,
      // between values a < b, whose left rows sum to `left`.
      auto consider = [&](int64_t f, int64_t nl, double left, double a, double b) {
        const int64_t nr = m - nl;
        if (nl < config_.min_leaf || nr < config_.min_leaf) return;
        const double right = sum - left;
        const double gain = left * left / nl + right * right / nr - parent;
        if (gain > best_gain) {
          best_gain = gain;
          best_feature = f;
          // The midpoint, unless rounding puts it on the upper value
          // (adjacent doubles): then the lower value itself.
          const double mid = 0.5 * (a + b);
          best_thr = mid < b ? mid : a;
        }
      };
      // Features in random order (Fisher-Yates, drawn as needed) until
      // `tried` of them vary in the node; constant ones do not count, so a
      // node is a leaf only when no feature can split it (as in
      // scikit-learn's splitter). All features tried: no draws needed.
      int64_t varying = 0;
      for (int64_t k = 0; k < d_ && varying < tried; ++k) {
        if (tried < d_) {
          std::uniform_int_distribution<int64_t> pick(k, d_ - 1);
          std::swap(features[k], features[pick(rng)]);
        }
        const int64_t f = features[k];
        if (constant[t.node * d_ + f]) continue;
        const double* col = XT + f * n;
        // A feature constant in the node cannot split it; rows at the node's
        // lowest value need no sorting (on sparse inputs such as element
        // shares that is most of them, and most features are constant deep
        // down): only the rest is sorted.
        values.resize(m);
        double lo = col[rows[t.begin]], hi = lo;
        for (int64_t i = 0; i < m; ++i) {
          const double v = col[rows[t.begin + i]];
          values[i] = v;
          lo = std::min(lo, v), hi = std::max(hi, v);
        }
        if (lo == hi) {
          constant[t.node * d_ + f] = 1;
          continue;
        }
        ++varying;
        order.clear();
        double left = 0.0;
        int64_t n_lo = 0;
        for (int64_t i = 0; i < m; ++i) {
          const int64_t r = rows[t.begin + i];
          if (values[i] == lo) left += z[r], ++n_lo;
          else order.emplace_back(values[i], r);
        }
        std::sort(order.begin(), order.end());
        consider(f, n_lo, left, lo, order.front().first);
        for (size_t i = 0; i + 1 < order.size(); ++i) {
          left += z[order[i].second];
          if (order[i].first != order[i + 1].first)
            consider(f, n_lo + static_cast<int64_t>(i) + 1, left, order[i].first, order[i + 1].first);
        }
      }
      if (best_feature < 0) continue;
      auto mid = std::stable_partition(rows.begin() + t.begin, rows.begin() + t.end,
                                [&](int64_t r) { return X[r * d_ + best_feature] <= best_thr; });
      const int64_t split = mid - rows.begin();
      if (split == t.begin || split == t.end) continue;  // no separation: a leaf
      const int32_t l = static_cast<int32_t>(tree.size()), r = l + 1;
      tree[t.node].feature = static_cast<int32_t>(best_feature);
      tree[t.node].threshold = best_thr;
      tree[t.node].left = l;
      tree[t.node].right = r;
      tree.push_back({});
      tree.push_back({});
      constant.resize(tree.size() * d_);
      std::copy_n(constant.begin() + t.node * d_, d_, constant.begin() + l * d_);
      std::copy_n(constant.begin() + t.node * d_, d_, constant.begin() + r * d_);
      stack.push_back({r, split, t.end, t.depth + 1});
      stack.push_back({l, t.begin, split, t.depth + 1});
    }
    for (int64_t i = 0; i < n; ++i) {
      if (in_bag[i]) continue;
      int32_t k = 0;
      while (tree[k].feature >= 0) k = X[i * d_ + tree[k].feature] <= tree[k].threshold ? tree[k].left : tree[k].right;
      oob_sum[i] += tree[k].value;
      ++oob_count[i];
    }
  }
  double se = 0.0;
  int64_t counted = 0;
  for (int64_t i = 0; i < n; ++i)
    if (oob_count[i] > 0) se += std::pow(oob_sum[i] / oob_count[i] - z[i], 2), ++counted;
  noise_ = counted > 0 ? std::max(se / counted, 1e-6) : 1e-6;
}

void RandomForest::check_fitted(const char* what) const {
  SOZAI_CHECK(!trees_.empty(), "RandomForest::", what, ": the model has no data yet; call fit() first");
}

torch::Tensor RandomForest::tree_predictions(const torch::Tensor& Xq) const {
  check_fitted("tree_predictions");
  SOZAI_CHECK(Xq.dim() == 2 && Xq.size(1) == d_, "RandomForest: X must be [n, ", d_, "], got ", Xq.sizes());
  auto Xc = Xq.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const double* X = Xc.data_ptr<double>();
  const int64_t n = Xc.size(0);
  auto out = torch::empty({static_cast<int64_t>(trees_.size()), n}, torch::kFloat64);
  auto* o = out.data_ptr<double>();
  for (size_t t = 0; t < trees_.size(); ++t) {
    const auto& tree = trees_[t];
    for (int64_t i = 0; i < n; ++i) {
      int32_t k = 0;
      while (tree[k].feature >= 0) k = X[i * d_ + tree[k].feature] <= tree[k].threshold ? tree[k].left : tree[k].right;
      o[t * n + i] = tree[k].value;
    }
  }
  return out.to(Xq.device());
}

Posterior RandomForest::latent_posterior(const torch::Tensor& X) const {
  auto P = tree_predictions(X);
  return {P.mean(0).unsqueeze(1).to(X.scalar_type()),
          P.var(0, /*unbiased=*/false).clamp_min(1e-9).unsqueeze(1).to(X.scalar_type())};
}

Posterior RandomForest::posterior(const torch::Tensor& X) const { return transform_.untransform(latent_posterior(X)); }

torch::Tensor RandomForest::latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const {
  // RGPE asks for the covariance of the target's rows with themselves:
  // the trees are walked once then.
  const bool same = A.is_same(B);
  auto PA = tree_predictions(A);
  PA = PA - PA.mean(0, true);
  auto PB = same ? PA : tree_predictions(B);
  if (!same) PB = PB - PB.mean(0, true);
  return (torch::matmul(PA.t(), PB) / static_cast<double>(trees_.size())).to(A.scalar_type());
}

torch::Tensor RandomForest::transform_outcome(const torch::Tensor& Y) const { return transform_.forward(Y); }
torch::Tensor RandomForest::untransform_outcome(const torch::Tensor& Z) const { return transform_.inverse(Z); }
std::string RandomForest::name() const { return "RandomForest(" + std::to_string(trees_.size()) + " trees)"; }

}  // namespace sozai
