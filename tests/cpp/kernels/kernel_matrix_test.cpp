// Tiled kernel matrices against plain torch ops (direct-difference cdist)
// and models/gp/covariance; Tanimoto against a naive bit loop; pack_bits
// layout and round trip; CUDA parity with the CPU as oracle; bad input.

#include "common/error.h"
#include "kernels/kernel_matrix.h"
#include "models/gp/covariance.h"

#include <torch/cuda.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <tuple>
#include <vector>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>
#include "../test_util.h"

using namespace sozai;
using namespace sozai::kernels;

namespace {

/// Oracle in float64 from torch ops: cdist by direct differences
/// (compute_mode 2 = never the |x|^2 + |y|^2 - 2xy matmul form).
torch::Tensor torch_kernel(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& ls, double s,
                           KernelKind kind) {
  auto a = x1.to(torch::kFloat64) / ls.to(torch::kFloat64);
  auto b = x2.to(torch::kFloat64) / ls.to(torch::kFloat64);
  auto r = torch::cdist(a, b, 2.0, /*compute_mode=*/2);
  if (kind == KernelKind::RBF) return s * torch::exp(-0.5 * r * r);
  return s * (1.0 + std::sqrt(5.0) * r + (5.0 / 3.0) * r * r) * torch::exp(-std::sqrt(5.0) * r);
}

std::string describe(int64_t n, int64_t m, int64_t d, bool ard, KernelKind kind, torch::ScalarType dt) {
  std::ostringstream os;
  os << "n=" << n << " m=" << m << " d=" << d << " ard=" << ard << " kind=" << to_string(kind) << " dtype=" << dt;
  return os.str();
}

/// Reference Tanimoto straight from the unpacked bits.
torch::Tensor naive_tanimoto(const torch::Tensor& A, const torch::Tensor& B) {
  auto a = A.accessor<bool, 2>();
  auto b = B.accessor<bool, 2>();
  auto out = torch::empty({A.size(0), B.size(0)}, torch::kFloat32);
  auto o = out.accessor<float, 2>();
  for (int64_t i = 0; i < A.size(0); ++i)
    for (int64_t j = 0; j < B.size(0); ++j) {
      int64_t both = 0, any = 0;
      for (int64_t k = 0; k < A.size(1); ++k) {
        both += a[i][k] && b[j][k];
        any += a[i][k] || b[j][k];
      }
      o[i][j] = any == 0 ? 1.0f : static_cast<float>(static_cast<double>(both) / static_cast<double>(any));
    }
  return out;
}

/// Inverse of pack_bits' documented layout: bit k in word k/64 at k%64.
torch::Tensor unpack(const torch::Tensor& words, int64_t nbits) {
  auto w = words.accessor<int64_t, 2>();
  auto out = torch::zeros({words.size(0), nbits}, torch::kBool);
  auto o = out.accessor<bool, 2>();
  for (int64_t i = 0; i < words.size(0); ++i)
    for (int64_t k = 0; k < nbits; ++k) o[i][k] = (static_cast<uint64_t>(w[i][k / 64]) >> (k % 64)) & 1u;
  return out;
}

torch::Tensor random_bits(int64_t n, int64_t nbits, double density) {
  return torch::rand({n, nbits}, torch::kFloat64) < density;
}

}  // namespace

TEST_CASE("kernel_matrix equals torch ops in float32 and float64", "[kernels][kernel_matrix]") {
  torch::manual_seed(3);
  // Sizes around the 64-row tile: below, exact multiples, one past, several tiles; and columns that pick each
  // tile width (64, 32 or 16 columns, the widest that pads by at most an eighth): 16, 48, 200, 100.
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {1, 1, 1},     {5, 3, 2},     {64, 64, 3},   {65, 63, 8},   {130, 70, 17},
      {200, 129, 1}, {70, 16, 6},   {131, 48, 6},  {66, 200, 5},  {9, 100, 4}};
  for (auto dt : {torch::kFloat64, torch::kFloat32}) {
    for (auto [n, m, d] : shapes) {
      for (bool ard : {true, false}) {
        for (auto kind : {KernelKind::RBF, KernelKind::Matern52}) {
          auto x1 = torch::randn({n, d}, torch::kFloat64).to(dt);
          auto x2 = torch::randn({m, d}, torch::kFloat64).to(dt);
          auto ls = ard ? (torch::rand({d}, torch::kFloat64) * 2.0 + 0.3) : torch::full({1}, 0.9, torch::kFloat64);
          const double s = 1.7;
          auto K = kernel_matrix(x1, x2, ls, s, kind);
          auto ref = torch_kernel(x1, x2, ls, s, kind);
          INFO(describe(n, m, d, ard, kind, dt));
          REQUIRE(K.scalar_type() == dt);
          REQUIRE(K.sizes() == torch::IntArrayRef({n, m}));
          // float32: inputs are rounded to float before both computations
          // (x1.to(dt) above), so only the arithmetic differs.
          const double rtol = dt == torch::kFloat64 ? 1e-13 : 2e-5;
          const double atol = dt == torch::kFloat64 ? 1e-15 : 1e-6;
          auto err = (K.to(torch::kFloat64) - ref).abs() - rtol * ref.abs();
          CHECK(err.max().item<double>() <= atol);
        }
      }
    }
  }
}

TEST_CASE("kernel_matrix matches models/gp/covariance", "[kernels][kernel_matrix]") {
  torch::manual_seed(11);
  auto x1 = torch::rand({97, 6}, torch::kFloat64) * 4.0;
  auto x2 = torch::rand({150, 6}, torch::kFloat64) * 4.0;
  auto ls = torch::tensor({0.5, 1.0, 2.0, 0.7, 3.0, 1.3}, torch::kFloat64);
  const double s = 2.3;
  for (auto [kind, ckind] : {std::pair{KernelKind::RBF, CovarianceKind::RBF},
                             std::pair{KernelKind::Matern52, CovarianceKind::Matern52}}) {
    INFO("kind=" << to_string(kind));
    auto K = kernel_matrix(x1, x2, ls, s, kind);
    auto C = covariance(ckind, x1, x2, ls, torch::tensor(s, torch::kFloat64));
    // covariance() uses the GEMM expansion, which loses ~1e-15 * |x/l|^2 in r^2.
    CHECK(torch::allclose(K, C, 1e-10, 1e-12));
  }
}

TEST_CASE("kernel_matrix resolves nearby points that the GEMM expansion cannot", "[kernels][kernel_matrix]") {
  // Points of magnitude 100 that differ by 1e-6: s - K ~ r^2/2 ~ 1e-12 is
  // below the rounding of |x|^2 ~ 1e4 in the expansion, but exact here.
  torch::manual_seed(5);
  auto x1 = torch::rand({40, 4}, torch::kFloat64) * 100.0;
  auto delta = torch::randn({40, 4}, torch::kFloat64) * 1e-6;
  auto x2 = x1 + delta;
  auto ls = torch::ones({4}, torch::kFloat64);
  auto K = kernel_matrix(x1, x2, ls, 1.0, KernelKind::RBF).diagonal();
  // delta recomputed from the stored x2 so that the oracle sees the same points.
  auto r2 = (x2 - x1).pow(2).sum(1);
  auto one_minus_k_ref = -torch::expm1(-0.5 * r2);
  CHECK(torch::allclose(1.0 - K, one_minus_k_ref, 1e-3, 0.0));
}

TEST_CASE("kernel_matrix handles empty inputs and d = 0", "[kernels][kernel_matrix]") {
  auto ls = torch::ones({3}, torch::kFloat64);
  auto a = kernel_matrix(torch::zeros({0, 3}, torch::kFloat64), torch::zeros({4, 3}, torch::kFloat64), ls, 1.0,
                         KernelKind::Matern52);
  CHECK(a.sizes() == torch::IntArrayRef({0, 4}));
  auto b = kernel_matrix(torch::zeros({5, 3}, torch::kFloat32), torch::zeros({0, 3}, torch::kFloat32), ls, 1.0,
                         KernelKind::RBF);
  CHECK(b.sizes() == torch::IntArrayRef({5, 0}));
  CHECK(b.scalar_type() == torch::kFloat32);
  // No features: every distance is 0, every value the outputscale.
  auto c = kernel_matrix(torch::zeros({3, 0}, torch::kFloat64), torch::zeros({70, 0}, torch::kFloat64),
                         torch::ones({1}, torch::kFloat64), 2.5, KernelKind::Matern52);
  CHECK(torch::equal(c, torch::full({3, 70}, 2.5, torch::kFloat64)));
}

TEST_CASE("kernel_matrix values far apart go to 0 without NaN", "[kernels][kernel_matrix]") {
  auto x1 = torch::tensor({{0.0}, {1e3}, {1e150}}, torch::kFloat64);
  auto x2 = torch::tensor({{0.0}}, torch::kFloat64);
  for (auto kind : {KernelKind::RBF, KernelKind::Matern52}) {
    auto K = kernel_matrix(x1, x2, torch::ones({1}, torch::kFloat64), 1.0, kind);
    CHECK(K[0][0].item<double>() == 1.0);
    CHECK(K[1][0].item<double>() == 0.0);
    CHECK(K[2][0].item<double>() == 0.0);
  }
  auto K = kernel_matrix(torch::tensor({{0.0f}, {30.0f}}), torch::tensor({{0.0f}}), torch::ones({1}), 1.0,
                         KernelKind::RBF);
  CHECK(K[1][0].item<float>() == 0.0f);
}

TEST_CASE("bad kernel_matrix input gives clear errors", "[kernels][kernel_matrix]") {
  auto x = torch::zeros({4, 3}, torch::kFloat64);
  auto ls = torch::ones({3}, torch::kFloat64);
  const auto M = KernelKind::Matern52;
  CHECK_THROWS_WITH(kernel_matrix(torch::zeros({4}, torch::kFloat64), x, ls, 1.0, M),
                    Catch::Contains("x1 must be [n, d]"));
  CHECK_THROWS_AS(kernel_matrix(x, torch::zeros({2, 3, 1}, torch::kFloat64), ls, 1.0, M), InputError);
  CHECK_THROWS_WITH(kernel_matrix(x, torch::zeros({2, 4}, torch::kFloat64), ls, 1.0, M),
                    Catch::Contains("same number of columns"));
  CHECK_THROWS_WITH(kernel_matrix(x, x, torch::ones({2}, torch::kFloat64), 1.0, M),
                    Catch::Contains("lengthscale must be [d]"));
  CHECK_THROWS_AS(kernel_matrix(x, x, torch::ones({1, 3}, torch::kFloat64), 1.0, M), InputError);
  CHECK_THROWS_WITH(kernel_matrix(x, x, torch::tensor({1.0, 0.0, 1.0}, torch::kFloat64), 1.0, M),
                    Catch::Contains("positive and finite"));
  CHECK_THROWS_AS(kernel_matrix(x, x, torch::tensor({1.0, -2.0, 1.0}, torch::kFloat64), 1.0, M), InputError);
  CHECK_THROWS_AS(kernel_matrix(x, x, torch::tensor({1.0, std::nan(""), 1.0}, torch::kFloat64), 1.0, M), InputError);
  CHECK_THROWS_AS(kernel_matrix(x, x, torch::tensor({1.0, std::numeric_limits<double>::infinity(), 1.0}, torch::kFloat64), 1.0, M), InputError);
  // Positive in float64, 0 once cast to the float32 of x.
  CHECK_THROWS_AS(kernel_matrix(x.to(torch::kFloat32), x.to(torch::kFloat32), torch::full({3}, 1e-50, torch::kFloat64),
                                1.0, M),
                  InputError);
  CHECK_THROWS_WITH(kernel_matrix(x, x, ls, 0.0, M), Catch::Contains("outputscale"));
  CHECK_THROWS_AS(kernel_matrix(x, x, ls, -1.0, M), InputError);
  CHECK_THROWS_AS(kernel_matrix(x, x, ls, std::numeric_limits<double>::infinity(), M), InputError);
  CHECK_THROWS_AS(kernel_matrix(x, x, ls, NAN, M), InputError);
  CHECK_THROWS_WITH(kernel_matrix(x.to(torch::kInt64), x.to(torch::kInt64), ls, 1.0, M),
                    Catch::Contains("float32 or float64"));
  CHECK_THROWS_WITH(kernel_matrix(x, x.to(torch::kFloat32), ls, 1.0, M), Catch::Contains("same dtype"));
  CHECK_THROWS_AS(kernel_matrix(x, x, ls.to(torch::kInt64), 1.0, M), InputError);
  CHECK_THROWS_AS(kernel_matrix(torch::Tensor(), x, ls, 1.0, M), InputError);
  // Mixed devices (meta stands in for a second device on a CPU-only machine).
  CHECK_THROWS_AS(kernel_matrix(x, x.to(torch::kMeta), ls, 1.0, M), DeviceError);
  CHECK_THROWS_WITH(kernel_matrix(x, x, ls.to(torch::kMeta), 1.0, M), Catch::Contains("same device"));
  CHECK_THROWS_AS(kernel_kind_from_string("matern32"), InputError);
  CHECK(kernel_kind_from_string("RBF") == KernelKind::RBF);
  CHECK(kernel_kind_from_string("Matern-5/2") == KernelKind::Matern52);
}

TEST_CASE("pack_bits layout and round trip", "[kernels][kernel_matrix]") {
  // Bit k sits in word k/64 at position k%64, least significant first.
  auto bits = torch::zeros({2, 130}, torch::kBool);
  bits[0][0] = true;
  bits[0][63] = true;
  bits[0][64] = true;
  bits[1][129] = true;
  auto w = pack_bits(bits);
  REQUIRE(w.scalar_type() == torch::kInt64);
  REQUIRE(w.sizes() == torch::IntArrayRef({2, 3}));
  CHECK(static_cast<uint64_t>(w[0][0].item<int64_t>()) == ((uint64_t{1} << 63) | 1u));
  CHECK(w[0][1].item<int64_t>() == 1);
  CHECK(w[0][2].item<int64_t>() == 0);
  CHECK(w[1][0].item<int64_t>() == 0);
  CHECK(w[1][2].item<int64_t>() == 2);  // bit 129 = word 2, position 1
  torch::manual_seed(7);
  for (int64_t nbits : {1, 63, 64, 65, 2048, 1000}) {
    INFO("nbits=" << nbits);
    auto b = random_bits(37, nbits, 0.3);
    auto packed = pack_bits(b);
    CHECK(packed.size(1) == (nbits + 63) / 64);
    CHECK(torch::equal(unpack(packed, nbits), b));
    // uint8 input: nonzero means set.
    CHECK(torch::equal(pack_bits(b.to(torch::kUInt8) * 7), packed));
  }
  CHECK(pack_bits(torch::zeros({0, 10}, torch::kBool)).sizes() == torch::IntArrayRef({0, 1}));
  CHECK(pack_bits(torch::zeros({3, 0}, torch::kBool)).sizes() == torch::IntArrayRef({3, 0}));
}

TEST_CASE("tanimoto equals a naive bit loop", "[kernels][kernel_matrix]") {
  torch::manual_seed(13);
  const std::vector<std::tuple<int64_t, int64_t, int64_t, double>> cases = {
      {1, 1, 64, 0.5}, {70, 130, 2048, 0.05}, {64, 65, 100, 0.5}, {129, 3, 1, 0.5}, {33, 90, 1000, 0.9}};
  for (auto [n, m, nbits, density] : cases) {
    INFO("n=" << n << " m=" << m << " nbits=" << nbits << " density=" << density);
    auto A = random_bits(n, nbits, density);
    auto B = random_bits(m, nbits, density);
    auto T = tanimoto(pack_bits(A), pack_bits(B));
    REQUIRE(T.scalar_type() == torch::kFloat32);
    REQUIRE(T.sizes() == torch::IntArrayRef({n, m}));
    CHECK(torch::equal(T, naive_tanimoto(A, B)));
  }
  // Self-similarity is 1, also for an empty fingerprint (RDKit's convention).
  auto A = random_bits(20, 300, 0.2);
  A[4].zero_();
  auto T = tanimoto(pack_bits(A), pack_bits(A));
  CHECK(torch::equal(T.diagonal(), torch::ones({20}, torch::kFloat32)));
  // Empty vs non-empty: 0.
  CHECK(T[4][5].item<float>() == 0.0f);
  // Bit 63 (the int64 sign bit) counts like any other.
  auto hi = torch::zeros({1, 64}, torch::kBool);
  hi[0][63] = true;
  auto both = torch::zeros({1, 64}, torch::kBool);
  both[0][63] = true;
  both[0][0] = true;
  CHECK(tanimoto(pack_bits(hi), pack_bits(both)).item<float>() == 0.5f);
}

TEST_CASE("tanimoto empty inputs and bad input", "[kernels][kernel_matrix]") {
  auto a = torch::zeros({3, 4}, torch::kInt64);
  CHECK(tanimoto(torch::zeros({0, 4}, torch::kInt64), a).sizes() == torch::IntArrayRef({0, 3}));
  CHECK(tanimoto(a, torch::zeros({0, 4}, torch::kInt64)).sizes() == torch::IntArrayRef({3, 0}));
  CHECK_THROWS_WITH(tanimoto(a.to(torch::kInt32), a.to(torch::kInt32)), Catch::Contains("int64"));
  CHECK_THROWS_AS(tanimoto(a, a.to(torch::kFloat32)), InputError);
  CHECK_THROWS_WITH(tanimoto(a, torch::zeros({3, 5}, torch::kInt64)), Catch::Contains("same number of words"));
  CHECK_THROWS_WITH(tanimoto(torch::zeros({4}, torch::kInt64), a), Catch::Contains("a must be [n, words]"));
  CHECK_THROWS_AS(tanimoto(a, torch::zeros({3, 4, 1}, torch::kInt64)), InputError);
  CHECK_THROWS_WITH(pack_bits(torch::zeros({3, 4}, torch::kFloat32)), Catch::Contains("bool or uint8"));
  CHECK_THROWS_AS(pack_bits(torch::zeros({3}, torch::kBool)), InputError);
  CHECK_THROWS_AS(tanimoto(a, a.to(torch::kMeta)), DeviceError);
}

TEST_CASE("CUDA kernel_matrix and tanimoto match the CPU reference", "[kernels][kernel_matrix][cuda]") {
  if (!torch::cuda::is_available()) SOZAI_SKIP("no CUDA device; CUDA parity of kernel_matrix/tanimoto not checked");
  torch::manual_seed(17);
  const auto cuda = torch::Device(torch::kCUDA);
  for (auto dt : {torch::kFloat64, torch::kFloat32}) {
    for (auto [n, m, d] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 1, 1}, {33, 31, 5}, {100, 257, 17}, {64, 64, 40}}) {
      for (bool ard : {true, false}) {
        for (auto kind : {KernelKind::RBF, KernelKind::Matern52}) {
          auto x1 = torch::randn({n, d}, torch::kFloat64).to(dt);
          auto x2 = torch::randn({m, d}, torch::kFloat64).to(dt);
          auto ls = ard ? torch::rand({d}, torch::kFloat64) + 0.5 : torch::full({1}, 1.3, torch::kFloat64);
          auto cpu = kernel_matrix(x1, x2, ls, 0.8, kind);
          auto gpu = kernel_matrix(x1.to(cuda), x2.to(cuda), ls.to(cuda), 0.8, kind);
          INFO(describe(n, m, d, ard, kind, dt));
          REQUIRE(gpu.is_cuda());
          const double rtol = dt == torch::kFloat64 ? 1e-12 : 1e-5;
          const double atol = dt == torch::kFloat64 ? 1e-14 : 1e-6;
          CHECK(torch::allclose(gpu.cpu(), cpu, rtol, atol));
        }
      }
    }
  }
  for (auto [n, m, nbits] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 1, 64}, {70, 130, 2048}, {129, 33, 1000}, {40, 40, 17}}) {
    INFO("tanimoto n=" << n << " m=" << m << " nbits=" << nbits);
    auto A = pack_bits(random_bits(n, nbits, 0.2));
    auto B = pack_bits(random_bits(m, nbits, 0.2));
    auto gpu = tanimoto(A.to(cuda), B.to(cuda));
    REQUIRE(gpu.is_cuda());
    CHECK(torch::equal(gpu.cpu(), tanimoto(A, B)));  // exact integers, one rounding: bitwise equal
  }
  // Mixed devices are a DeviceError.
  auto x = torch::zeros({2, 2}, torch::kFloat64);
  CHECK_THROWS_AS(kernel_matrix(x, x.to(cuda), torch::ones({2}, torch::kFloat64), 1.0, KernelKind::RBF),
                  DeviceError);
  CHECK_THROWS_AS(kernel_matrix(x.to(cuda), x.to(cuda), torch::ones({2}, torch::kFloat64), 1.0, KernelKind::RBF),
                  DeviceError);
  auto w = torch::zeros({2, 2}, torch::kInt64);
  CHECK_THROWS_AS(tanimoto(w, w.to(cuda)), DeviceError);
}
