// Fused acquisition + top-k: validation, dispatch, the CPU reference (a
// heap of k per thread, so the chunk's values are never stored) and the
// running merge across chunks.
#include "common/error.h"
#include "kernels/acquisition_topk.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

namespace sozai {
namespace kernels {
namespace {

using Entry = std::pair<double, int64_t>;  // (value, global index)

/// a ranks before b: larger value, then lower index.
inline bool better(const Entry& a, const Entry& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

/// Keeps the k best entries in a heap whose top is the worst kept one.
class Heap {
 public:
  explicit Heap(int64_t k) : k_(static_cast<size_t>(k)) { items_.reserve(k_); }
  /// The value a new entry must beat to get in (valid when full()).
  bool full() const { return items_.size() == k_; }
  const Entry& worst() const { return items_.front(); }
  void offer(double v, int64_t i) {
    if (std::isnan(v)) return;
    const Entry e{v, i};
    if (items_.size() < k_) {
      items_.push_back(e);
      std::push_heap(items_.begin(), items_.end(), better);
    } else if (better(e, items_.front())) {
      std::pop_heap(items_.begin(), items_.end(), better);
      items_.back() = e;
      std::push_heap(items_.begin(), items_.end(), better);
    }
  }
  std::vector<Entry>& items() { return items_; }

 private:
  size_t k_;
  std::vector<Entry> items_;
};

TopK to_topk(std::vector<Entry>& entries, int64_t k, const torch::TensorOptions& value_options) {
  std::sort(entries.begin(), entries.end(), better);
  if (static_cast<int64_t>(entries.size()) > k) entries.resize(static_cast<size_t>(k));
  const auto n = static_cast<int64_t>(entries.size());
  auto values = torch::empty({n}, torch::TensorOptions().dtype(torch::kFloat64));
  auto indices = torch::empty({n}, torch::TensorOptions().dtype(torch::kInt64));
  auto* v = values.data_ptr<double>();
  auto* ix = indices.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    v[i] = entries[static_cast<size_t>(i)].first;
    ix[i] = entries[static_cast<size_t>(i)].second;
  }
  return {values.to(value_options.dtype()), indices};
}

/// Runs `value(i)` over [0, n) in parallel, one heap per task, and merges.
/// `skip(i, worst)` may say that candidate i cannot beat `worst`, the
/// value a full heap's newcomer must beat, so its exact value is not needed.
template <typename F, typename S>
TopK parallel_topk(int64_t n, int64_t k, int64_t index_offset, const torch::TensorOptions& options, F value,
                   S skip) {
  std::vector<Entry> merged;
  std::mutex lock;
  at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
    Heap heap(k);
    S task_skip = skip;  // a copy per task: it may cache state
    for (int64_t i = begin; i < end; ++i) {
      // Indices rise within a task, so a candidate that only ties the
      // worst kept one loses the tie: skipping it is exact.
      if (heap.full() && task_skip(i, heap.worst().first)) continue;
      heap.offer(value(i), index_offset + i);
    }
    std::lock_guard<std::mutex> guard(lock);
    merged.insert(merged.end(), heap.items().begin(), heap.items().end());
  });
  return to_topk(merged, k, options);
}

void check_k(int64_t k, const char* op) { SOZAI_CHECK(k >= 1, op, ": k must be >= 1, got ", k); }

void check_offset(int64_t offset, const char* op) {
  SOZAI_CHECK(offset >= 0, op, ": index_offset must be >= 0, got ", offset);
}

}  // namespace

TopK acquisition_topk_cpu(const torch::Tensor& mean, const torch::Tensor& variance, const AcquisitionParams& params,
                          int64_t k, int64_t index_offset) {
  // The cheap bound is in log units except for LogEI, whose values already are.
  const bool log_units = params.kind == AcquisitionKind::LogEI;
  // Absolute margin against the rounding of log(worst) and of the bound.
  constexpr double kMargin = 1e-9;
  TopK out;
  AT_DISPATCH_FLOATING_TYPES(mean.scalar_type(), "acquisition_topk_cpu", [&] {
    const scalar_t* m = mean.data_ptr<scalar_t>();
    const scalar_t* v = variance.data_ptr<scalar_t>();
    auto value = [&](int64_t i) {
      // Rounded to the storage type, so values and ranking agree with
      // analytic_acquisition's output.
      return static_cast<double>(static_cast<scalar_t>(impl::acquisition_value(m[i], v[i], params)));
    };
    // log(worst) is cached: the worst kept value changes rarely.
    auto skip = [&, last = std::numeric_limits<double>::quiet_NaN(), log_last = 0.0](int64_t i,
                                                                                     double worst) mutable {
      const double bound = impl::log_upper_bound(m[i], v[i], params);
      if (bound == std::numeric_limits<double>::infinity()) return false;
      if (log_units) return bound < worst - kMargin;
      if (!(worst > 0.0)) return false;
      if (worst != last) {
        last = worst;
        log_last = std::log(worst);
      }
      return bound < log_last - kMargin;
    };
    out = parallel_topk(mean.numel(), k, index_offset, mean.options(), value, skip);
  });
  return out;
}

TopK acquisition_topk(const torch::Tensor& mean, const torch::Tensor& variance, const AcquisitionParams& params,
                      int64_t k, int64_t index_offset) {
  check_k(k, "acquisition_topk");
  check_offset(index_offset, "acquisition_topk");
  // Shapes, dtypes, devices and parameters are checked by the elementwise
  // op's validation, so both entry points accept exactly the same inputs.
  validate_acquisition_inputs(mean, variance, params, "acquisition_topk");
  SOZAI_CHECK(mean.dim() == 1, "acquisition_topk: mean and variance must be 1-D [n], got shape ", mean.sizes());
  if (mean.is_cuda()) {
#ifdef SOZAI_WITH_CUDA
    return acquisition_topk_cuda(mean.contiguous(), variance.contiguous(), params, k, index_offset);
#else
    throw DeviceError("acquisition_topk: tensors are on a CUDA device but sozai was built without CUDA "
                      "(configure with -DSOZAI_WITH_CUDA=ON)");
#endif
  }
  return acquisition_topk_cpu(mean.contiguous(), variance.contiguous(), params, k, index_offset);
}

TopK topk_scores(const torch::Tensor& scores, int64_t k, int64_t index_offset) {
  check_k(k, "topk_scores");
  check_offset(index_offset, "topk_scores");
  SOZAI_CHECK(scores.defined() && scores.dim() == 1, "topk_scores: scores must be a 1-D tensor");
  SOZAI_CHECK(scores.is_floating_point(), "topk_scores: scores must be floating point, got ", scores.scalar_type());
  if (!scores.is_cpu()) {
    // Device path: NaN never wins, then the library's topk; exact ties at
    // the k-th place are resolved by the device sort.
    auto nan = torch::isnan(scores);
    const int64_t keep = scores.numel() - nan.sum().item<int64_t>();
    auto r = torch::topk(scores.masked_fill(nan, -std::numeric_limits<double>::infinity()), std::min(k, keep));
    return {std::get<0>(r), std::get<1>(r) + index_offset};
  }
  auto c = scores.contiguous();
  TopK out;
  AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "topk_scores", [&] {
    const scalar_t* s = c.data_ptr<scalar_t>();
    out = parallel_topk(
        c.numel(), k, index_offset, c.options(), [&](int64_t i) { return static_cast<double>(s[i]); },
        [](int64_t, double) { return false; });
  });
  return out;
}

TopK merge_topk(const TopK& a, const TopK& b, int64_t k) {
  check_k(k, "merge_topk");
  const bool a_empty = !a.values.defined() || a.values.numel() == 0;
  const bool b_empty = !b.values.defined() || b.values.numel() == 0;
  if (a_empty && b_empty) return b.values.defined() ? b : a;
  if (a_empty || b_empty) {
    const TopK& x = a_empty ? b : a;
    const int64_t n = std::min(k, x.values.numel());
    return {x.values.narrow(0, 0, n), x.indices.narrow(0, 0, n)};
  }
  SOZAI_CHECK(a.values.scalar_type() == b.values.scalar_type(), "merge_topk: dtypes differ (",
              a.values.scalar_type(), " and ", b.values.scalar_type(), ")");
  SOZAI_CHECK_T(DeviceError, a.values.device() == b.values.device(), "merge_topk: devices differ (",
                a.values.device(), " and ", b.values.device(), ")");
  auto values = torch::cat({a.values, b.values});
  auto indices = torch::cat({a.indices, b.indices});
  // Lower index first, then a stable sort by value: ties keep index order.
  auto by_index = torch::argsort(indices);
  values = values.index_select(0, by_index);
  indices = indices.index_select(0, by_index);
  auto order = std::get<1>(torch::sort(values, /*stable=*/true, /*dim=*/0, /*descending=*/true));
  order = order.narrow(0, 0, std::min<int64_t>(k, order.numel()));
  return {values.index_select(0, order), indices.index_select(0, order)};
}

#ifdef SOZAI_WITH_CUDA
TopK acquisition_topk_cuda(const torch::Tensor& mean, const torch::Tensor& variance, const AcquisitionParams& params,
                           int64_t k, int64_t index_offset) {
  // The chunk's values live on the device for the length of this call only
  // (memory O(chunk)); the reduction to k happens there too.
  return topk_scores(analytic_acquisition_cuda(mean, variance, params), k, index_offset);
}
#endif

RunningTopK::RunningTopK(int64_t k) : k_(k) { check_k(k, "RunningTopK"); }

void RunningTopK::merge(const TopK& chunk_best, int64_t chunk_size) {
  best_ = merge_topk(best_, chunk_best, k_);
  seen_ += chunk_size;
}

void RunningTopK::push_acquisition(const torch::Tensor& mean, const torch::Tensor& variance,
                                   const AcquisitionParams& params, int64_t index_offset) {
  merge(acquisition_topk(mean, variance, params, k_, index_offset), mean.numel());
}

void RunningTopK::push_scores(const torch::Tensor& scores, int64_t index_offset) {
  merge(topk_scores(scores, k_, index_offset), scores.numel());
}

}  // namespace kernels
}  // namespace sozai
