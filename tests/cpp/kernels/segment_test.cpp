// Segment and scatter reductions against plain torch (index_add_,
// scatter_reduce), double-precision gradcheck, CUDA parity and input checks.

#include "common/error.h"
#include "kernels/segment.h"

#include <torch/autograd.h>
#include <torch/cuda.h>

#include <functional>

// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

using namespace sozai;
using namespace sozai::kernels;

namespace {

/// Random CSR offsets for B segments over E rows, some segments empty.
torch::Tensor random_ptr(int64_t B, int64_t E, uint64_t seed) {
  torch::manual_seed(seed);
  auto cuts = std::get<0>(torch::sort(torch::randint(0, E + 1, {B - 1}, torch::kInt64)));
  return torch::cat({torch::zeros({1}, torch::kInt64), cuts, torch::full({1}, E, torch::kInt64)});
}

/// Oracle: plain torch on the row -> group map.
torch::Tensor oracle(const torch::Tensor& src, const torch::Tensor& group, int64_t D, Reduce reduce) {
  auto shape = src.sizes().vec();
  shape[0] = D;
  if (reduce == Reduce::Sum) return torch::zeros(shape, src.options()).index_add_(0, group, src);
  auto idx = group.view({-1}).clone();
  std::vector<int64_t> ishape(static_cast<size_t>(src.dim()), 1);
  ishape[0] = idx.numel();
  auto expanded = idx.view(ishape).expand_as(src).contiguous();
  auto out = torch::zeros(shape, src.options())
                 .scatter_reduce(0, expanded, src, reduce == Reduce::Mean ? "mean" : "amax", /*include_self=*/false);
  return out;
}

template <typename T>
std::vector<T> flat(const torch::Tensor& t) {
  auto c = t.contiguous().view({-1});
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

}  // namespace

TEST_CASE("segment and scatter reductions equal plain torch", "[kernels][segment]") {
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    for (auto reduce : {Reduce::Sum, Reduce::Mean, Reduce::Max}) {
      for (std::vector<int64_t> trailing : {std::vector<int64_t>{}, {1}, {7}, {3, 5}, {64}}) {
        const int64_t E = 1000, B = 97;
        auto shape = trailing;
        shape.insert(shape.begin(), E);
        torch::manual_seed(11);
        auto src = torch::randn(shape, torch::TensorOptions().dtype(dtype));
        auto ptr = random_ptr(B, E, 3);
        auto group = ptr_to_index(ptr, E);
        INFO("dtype " << dtype << " reduce " << to_string(reduce) << " trailing " << trailing.size());
        auto expect = oracle(src, group, B, reduce);
        const double tol = dtype == torch::kFloat32 ? 1e-5 : 1e-12;
        auto seg = std::get<0>(segment_reduce(src, ptr, reduce));
        CHECK(seg.sizes() == expect.sizes());
        CHECK(torch::allclose(seg, expect, tol, tol));

        // Same rows in shuffled order through the unsorted-index path.
        auto perm = torch::randperm(E, torch::kInt64);
        auto sc = std::get<0>(scatter_reduce(src.index_select(0, perm), group.index_select(0, perm), B, reduce));
        CHECK(torch::allclose(sc, expect, tol, tol));
      }
    }
  }
}

TEST_CASE("max returns the argmax row, E for empty segments", "[kernels][segment]") {
  auto src = torch::tensor({1.0, 5.0, 3.0, 5.0, -2.0, 0.5}, torch::kFloat64).view({6, 1});
  auto ptr = torch::tensor({0, 4, 4, 6}, torch::kInt64);
  torch::Tensor v, a;
  std::tie(v, a) = segment_max(src, ptr);
  CHECK(flat<double>(v) == std::vector<double>{5.0, 0.0, 0.5});
  // Ties go to the first row; the empty middle segment points one past the end.
  CHECK(flat<int64_t>(a) == std::vector<int64_t>{1, 6, 5});
  auto index = torch::tensor({2, 0, 2, 0, 2, 2}, torch::kInt64);
  std::tie(v, a) = scatter_max(src, index, 4);
  CHECK(flat<double>(v) == std::vector<double>{5.0, 0.0, 3.0, 0.0});
  CHECK(flat<int64_t>(a) == std::vector<int64_t>{1, 6, 2, 6});
  // dim_size inferred from the largest index.
  CHECK(scatter_sum(src, index).size(0) == 3);
}

TEST_CASE("mean of empty segments is zero and sums of nothing are zero", "[kernels][segment]") {
  auto src = torch::zeros({0, 4}, torch::kFloat32);
  auto ptr = torch::zeros({4}, torch::kInt64);
  auto out = segment_mean(src, ptr);
  CHECK(out.sizes() == torch::IntArrayRef({3, 4}));
  CHECK(out.abs().sum().item<float>() == 0.0f);
  auto s = scatter_sum(src, torch::zeros({0}, torch::kInt64), 2);
  CHECK(s.sizes() == torch::IntArrayRef({2, 4}));
  CHECK(scatter_sum(src, torch::zeros({0}, torch::kInt64)).size(0) == 0);
}

TEST_CASE("gradients pass double-precision gradcheck", "[kernels][segment]") {
  torch::manual_seed(5);
  const int64_t E = 40, B = 9;
  auto ptr = random_ptr(B, E, 7);
  auto group = ptr_to_index(ptr, E);
  auto perm = torch::randperm(E, torch::kInt64);
  for (auto reduce : {Reduce::Sum, Reduce::Mean, Reduce::Max}) {
    INFO("reduce " << to_string(reduce));
    auto src = torch::randn({E, 3}, torch::dtype(torch::kFloat64).requires_grad(true));
    auto seg_fn = [&](const std::vector<torch::Tensor>& in) {
      return std::vector<torch::Tensor>{std::get<0>(segment_reduce(in[0], ptr, reduce))};
    };
    auto sc_fn = [&](const std::vector<torch::Tensor>& in) {
      return std::vector<torch::Tensor>{std::get<0>(scatter_reduce(in[0], group.index_select(0, perm), B, reduce))};
    };
    // Finite differences against the analytic backward (torch's gradcheck
    // is Python-only in 1.13, so the check is written out here).
    for (auto fn : {std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>&)>(seg_fn),
                    std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>&)>(sc_fn)}) {
      auto out = fn({src})[0];
      auto w = torch::randn(out.sizes(), torch::kFloat64);
      auto grad = torch::autograd::grad({(out * w).sum()}, {src})[0];
      auto numeric = torch::zeros_like(src);
      const double h = 1e-6;
      auto base = src.detach();
      for (int64_t i = 0; i < base.numel(); ++i) {
        auto plus = base.clone();
        plus.view({-1})[i] += h;
        auto minus = base.clone();
        minus.view({-1})[i] -= h;
        const double fp = (fn({plus})[0] * w).sum().item<double>();
        const double fm = (fn({minus})[0] * w).sum().item<double>();
        numeric.view({-1})[i] = (fp - fm) / (2 * h);
      }
      CHECK(torch::allclose(grad, numeric, 1e-6, 1e-6));
    }
  }
}

TEST_CASE("gradients equal those of the torch oracle", "[kernels][segment]") {
  torch::manual_seed(9);
  const int64_t E = 300, B = 31;
  auto ptr = random_ptr(B, E, 1);
  auto group = ptr_to_index(ptr, E);
  for (auto reduce : {Reduce::Sum, Reduce::Mean, Reduce::Max}) {
    auto a = torch::randn({E, 16}, torch::dtype(torch::kFloat64).requires_grad(true));
    auto b = a.detach().clone().requires_grad_(true);
    auto w = torch::randn({B, 16}, torch::kFloat64);
    (std::get<0>(segment_reduce(a, ptr, reduce)) * w).sum().backward();
    (oracle(b, group, B, reduce) * w).sum().backward();
    INFO("reduce " << to_string(reduce));
    CHECK(torch::allclose(a.grad(), b.grad(), 1e-12, 1e-12));
  }
}

TEST_CASE("segment and scatter inputs are checked", "[kernels][segment]") {
  auto src = torch::randn({5, 2});
  auto ptr = torch::tensor({0, 2, 5}, torch::kInt64);
  using test::message_of;
  CHECK_THAT(message_of<InputError>([&] { segment_sum(src, torch::tensor({0, 2, 4}, torch::kInt64)); }),
             Catch::Contains("ptr[-1] must equal the number of rows of src (5)"));
  CHECK_THAT(message_of<InputError>([&] { segment_sum(src, torch::tensor({1, 2, 5}, torch::kInt64)); }),
             Catch::Contains("ptr[0] must be 0"));
  CHECK_THAT(message_of<InputError>([&] { segment_sum(src, torch::tensor({0, 3, 2, 5}, torch::kInt64)); }),
             Catch::Contains("non-decreasing"));
  CHECK_THAT(message_of<InputError>([&] { segment_sum(src, ptr.to(torch::kFloat32)); }),
             Catch::Contains("ptr must be int64"));
  CHECK_THAT(message_of<InputError>([&] { segment_sum(src.to(torch::kInt32), ptr); }),
             Catch::Contains("src must be float32 or float64"));
  CHECK_THAT(message_of<InputError>([&] { segment_sum(torch::tensor(1.0), ptr); }),
             Catch::Contains("at least one dimension"));
  CHECK_THAT(message_of<InputError>([&] { scatter_sum(src, torch::tensor({0, 1, 2}, torch::kInt64)); }),
             Catch::Contains("index has 3 entries but src has 5 rows"));
  CHECK_THAT(message_of<InputError>([&] { scatter_sum(src, torch::tensor({0, 1, -2, 0, 0}, torch::kInt64)); }),
             Catch::Contains("index values must be >= 0"));
  CHECK_THAT(message_of<InputError>([&] { scatter_max(src, torch::tensor({0, 1, 7, 0, 0}, torch::kInt64), 4); }),
             Catch::Contains("index value 7 is out of range for dim_size 4"));
  CHECK_THAT(message_of<InputError>([] { reduce_from_string("median"); }), Catch::Contains("unknown reduction"));
  // int32 offsets are accepted and widened.
  CHECK(segment_sum(src, ptr.to(torch::kInt32)).size(0) == 2);
}

TEST_CASE("CUDA segment and scatter reductions match the CPU reference", "[kernels][segment][cuda]") {
  if (!torch::cuda::is_available()) SOZAI_SKIP("no CUDA device");
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    for (auto reduce : {Reduce::Sum, Reduce::Mean, Reduce::Max}) {
      const int64_t E = 20000, B = 513;
      torch::manual_seed(2);
      auto src = torch::randn({E, 37}, torch::TensorOptions().dtype(dtype));
      auto ptr = random_ptr(B, E, 4);
      auto group = ptr_to_index(ptr, E);
      auto perm = torch::randperm(E, torch::kInt64);
      const double tol = dtype == torch::kFloat32 ? 1e-4 : 1e-10;
      INFO("dtype " << dtype << " reduce " << to_string(reduce));
      torch::Tensor c, ca, g, ga;
      std::tie(c, ca) = segment_reduce(src, ptr, reduce);
      std::tie(g, ga) = segment_reduce(src.cuda(), ptr.cuda(), reduce);
      CHECK(torch::allclose(g.cpu(), c, tol, tol));
      if (reduce == Reduce::Max) CHECK(torch::equal(ga.cpu(), ca));
      auto s_src = src.index_select(0, perm), s_idx = group.index_select(0, perm);
      std::tie(c, ca) = scatter_reduce(s_src, s_idx, B, reduce);
      std::tie(g, ga) = scatter_reduce(s_src.cuda(), s_idx.cuda(), B, reduce);
      CHECK(torch::allclose(g.cpu(), c, tol, tol));
      if (reduce == Reduce::Max) CHECK(torch::equal(ga.cpu(), ca));
      // Backward on the device against the CPU.
      auto a = src.clone().requires_grad_(true);
      auto b = src.cuda().requires_grad_(true);
      auto w = torch::randn({B, 37}, torch::TensorOptions().dtype(dtype));
      (std::get<0>(segment_reduce(a, ptr, reduce)) * w).sum().backward();
      (std::get<0>(segment_reduce(b, ptr.cuda(), reduce)) * w.cuda()).sum().backward();
      CHECK(torch::allclose(b.grad().cpu(), a.grad(), tol, tol));
    }
  }
  // Offsets on another device than the values: a DeviceError naming both.
  CHECK_THAT(test::message_of<DeviceError>(
                 [] { segment_sum(torch::zeros({4, 2}).cuda(), torch::tensor({0, 4}, torch::kInt64)); }),
             Catch::Contains("ptr is on cpu but src is on cuda"));
}
