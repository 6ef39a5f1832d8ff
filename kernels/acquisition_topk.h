#pragma once
/// Fused acquisition + top-k: from the posterior mean and variance of a
/// chunk of candidates, the k best acquisition values and their indices,
/// and a running top-k across chunks, so a library of any size is screened
/// in memory that depends on k and the chunk, never on the library.

#include "kernels/acquisition.h"

#include <cstdint>
#include <torch/types.h>

namespace sozai {
namespace kernels {

/// k best entries, best first: values (dtype of the input) and int64
/// indices. Ties are broken towards the lower index (on CPU; the CUDA path
/// breaks exact ties at the k-th place in an unspecified order). NaN
/// acquisition values are never selected, so there may be fewer than k.
struct TopK {
  torch::Tensor values;
  torch::Tensor indices;
};

/// Acquisition of every candidate of the chunk and its k best, where the
/// chunk starts at global position `index_offset` (added to the indices).
/// On CPU the acquisition values are never stored: each thread keeps a heap
/// of k; on CUDA the chunk's values are computed on the device and reduced
/// there. mean/variance: [n], float32/float64, same device; k >= 1.
TopK acquisition_topk(const torch::Tensor& mean, const torch::Tensor& variance, const AcquisitionParams& params,
                      int64_t k, int64_t index_offset = 0);

/// k best of plain scores [n] (larger is better), indices offset as above.
TopK topk_scores(const torch::Tensor& scores, int64_t k, int64_t index_offset = 0);

/// k best of the union of two top-k lists (same dtype and device).
TopK merge_topk(const TopK& a, const TopK& b, int64_t k);

/// Running top-k over a stream of chunks pushed in any order; each push
/// names where its chunk starts in the library.
class RunningTopK {
 public:
  explicit RunningTopK(int64_t k);

  /// Scores the chunk with the fused acquisition and merges its best.
  void push_acquisition(const torch::Tensor& mean, const torch::Tensor& variance, const AcquisitionParams& params,
                        int64_t index_offset);
  /// Merges the best of a chunk of precomputed scores.
  void push_scores(const torch::Tensor& scores, int64_t index_offset);

  int64_t k() const { return k_; }
  /// Candidates pushed so far.
  int64_t seen() const { return seen_; }
  /// Current best (empty tensors before the first push).
  const TopK& best() const { return best_; }

 private:
  void merge(const TopK& chunk_best, int64_t chunk_size);
  int64_t k_;
  int64_t seen_ = 0;
  TopK best_;
};

TopK acquisition_topk_cpu(const torch::Tensor& mean, const torch::Tensor& variance, const AcquisitionParams& params,
                          int64_t k, int64_t index_offset);
#ifdef SOZAI_WITH_CUDA
TopK acquisition_topk_cuda(const torch::Tensor& mean, const torch::Tensor& variance, const AcquisitionParams& params,
                           int64_t k, int64_t index_offset);
#endif

}  // namespace kernels
}  // namespace sozai
