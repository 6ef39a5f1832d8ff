#pragma once
/// Tiled kernel matrices: stationary RBF / Matern-5/2 kernels with ARD
/// lengthscales, and Tanimoto similarity of bit-packed fingerprints. CPU
/// reference and CUDA implementation, chosen by the tensors' device.
///
/// Both are computed block by block (64 x 64 on the CPU, 32 x 32 per CUDA
/// thread block), so the workspace beyond the [n, m] output is bounded by
/// the tile size and d (or the fingerprint width), whatever n and m. No
/// autograd: for hyperparameter fitting use models/gp/covariance.

#include "kernels/kernel_matrix_impl.h"

#include <string>
#include <torch/types.h>

namespace sozai {
namespace kernels {

/// Parses "rbf" (also "se") or "matern52" (also "matern", "matern-5/2"),
/// case-insensitive; InputError otherwise.
KernelKind kernel_kind_from_string(const std::string& name);
/// Lower-case name of a kind ("rbf", "matern52").
std::string to_string(KernelKind kind);

/// x1: [n, d], x2: [m, d], both float32 or both float64 on one device;
/// lengthscale: [d] (ARD) or [1] (shared), positive and finite, any
/// floating dtype (cast to that of x), same device; outputscale: the
/// signal variance s > 0 that multiplies the correlation.
/// Returns K: [n, m] in the dtype and on the device of x, with
///   RBF:        K_ij = s exp(-r^2 / 2)
///   Matern-5/2: K_ij = s (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)
///   r^2 = sum_k ((x1_ik - x2_jk) / lengthscale_k)^2,
/// the conventions of models/gp/covariance. Squared distances come from
/// direct per-dimension differences (no |x|^2 + |y|^2 - 2xy cancellation),
/// so K is accurate to a few ulps also for nearby points. Empty x1 or x2
/// give an empty [n, m] result. Validates once here, then calls
/// kernel_matrix_cpu or kernel_matrix_cuda.
torch::Tensor kernel_matrix(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& lengthscale,
                            double outputscale, KernelKind kind);

/// bits: [n, nbits] bool or uint8 (nonzero = set), any device.
/// Returns int64 [n, ceil(nbits / 64)] with bit k of a row stored in word
/// k / 64 at bit position k % 64 (least significant first); the unused
/// high bits of the last word are 0. Packs on the CPU (a CUDA input is
/// copied there and the result copied back): packing is linear in the
/// input and done once per library, the similarity matrix is not.
torch::Tensor pack_bits(const torch::Tensor& bits);

/// a: [n, w], b: [m, w] int64 words from pack_bits (same w, same device).
/// Returns float32 [n, m] with T_ij = popcount(a_i & b_j) / popcount(a_i | b_j);
/// two empty fingerprints give 1 (see impl::tanimoto_value), as in RDKit.
/// Each value is float32 of the exact quotient, so it equals RDKit's
/// double TanimotoSimilarity rounded to float32.
torch::Tensor tanimoto(const torch::Tensor& a, const torch::Tensor& b);

/// Backends: inputs already validated, contiguous and of matching dtypes
/// (lengthscale in the dtype of x), n, m > 0.
torch::Tensor kernel_matrix_cpu(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& lengthscale,
                                double outputscale, KernelKind kind);
torch::Tensor tanimoto_cpu(const torch::Tensor& a, const torch::Tensor& b);
/// bits: contiguous CPU [n, nbits] bool/uint8.
torch::Tensor pack_bits_cpu(const torch::Tensor& bits);
#ifdef SOZAI_WITH_CUDA
torch::Tensor kernel_matrix_cuda(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& lengthscale,
                                 double outputscale, KernelKind kind);
torch::Tensor tanimoto_cuda(const torch::Tensor& a, const torch::Tensor& b);
#endif

}  // namespace kernels
}  // namespace sozai
