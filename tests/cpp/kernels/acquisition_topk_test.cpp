// Fused acquisition + top-k against sorting the full acquisition vector,
// the running top-k across chunks, CUDA parity and input checks.

#include "common/error.h"
#include "kernels/acquisition_topk.h"

#include <torch/cuda.h>

#include <algorithm>
#include <numeric>
#include <vector>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

using namespace sozai;
using namespace sozai::kernels;

namespace {

AcquisitionParams params(AcquisitionKind kind, bool maximize = true) {
  AcquisitionParams p;
  p.kind = kind;
  p.maximize = maximize;
  p.best_f = maximize ? 0.8 : -0.8;
  p.beta = 2.0;
  return p;
}

/// Oracle: the full acquisition vector, sorted by (value desc, index asc).
std::vector<int64_t> sorted_order(const torch::Tensor& values, int64_t k) {
  auto v = values.to(torch::kFloat64).contiguous();
  const double* p = v.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(v.numel()));
  std::iota(order.begin(), order.end(), 0);
  order.erase(std::remove_if(order.begin(), order.end(), [&](int64_t i) { return std::isnan(p[i]); }), order.end());
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
  if (static_cast<int64_t>(order.size()) > k) order.resize(static_cast<size_t>(k));
  return order;
}

std::vector<int64_t> as_vector(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

}  // namespace

TEST_CASE("fused acquisition top-k equals sorting every value", "[kernels][topk]") {
  // Most candidates sit far below the incumbent, so the cheap bound prunes
  // them: the result must still be exactly that of sorting.
  torch::manual_seed(3);
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    for (auto kind : {AcquisitionKind::EI, AcquisitionKind::LogEI, AcquisitionKind::UCB, AcquisitionKind::PI}) {
     for (bool maximize : {true, false}) {
      const int64_t n = 100003;
      auto mean = torch::randn({n}, torch::dtype(dtype));
      // Variances from 1e-3 to 4: the bound log sigma <= (var - 1) / 2 is
      // loose at both ends.
      auto var = torch::rand({n}, torch::dtype(dtype)) * 4.0 + 1e-3;
      auto full = analytic_acquisition(mean, var, params(kind, maximize));
      for (int64_t k : {1, 10, 257}) {
        INFO("dtype " << dtype << " kind " << static_cast<int>(kind) << " k " << k << " maximize " << maximize);
        auto top = acquisition_topk(mean, var, params(kind, maximize), k);
        auto expect = sorted_order(full, k);
        CHECK(as_vector(top.indices) == expect);
        CHECK(torch::equal(top.values, full.index_select(0, top.indices)));
        CHECK(top.values.scalar_type() == dtype);
      }
     }
    }
  }
}

TEST_CASE("the cheap bound never lies below the acquisition value", "[kernels][topk]") {
  torch::manual_seed(6);
  auto mean = torch::randn({200000}, torch::kFloat64) * 5.0;
  auto var = torch::exp(torch::randn({200000}, torch::kFloat64) * 3.0);
  for (auto kind : {AcquisitionKind::EI, AcquisitionKind::LogEI, AcquisitionKind::PI}) {
    for (bool maximize : {true, false}) {
      const auto p = params(kind, maximize);
      auto values = analytic_acquisition(mean, var, p);
      int64_t bounded = 0, violations = 0;
      for (int64_t i = 0; i < mean.numel(); ++i) {
        const double b = impl::log_upper_bound(mean[i].item<double>(), var[i].item<double>(), p);
        if (std::isinf(b)) continue;
        ++bounded;
        const double v = values[i].item<double>();
        const double logv = kind == AcquisitionKind::LogEI ? v : std::log(v);
        if (logv > b + 1e-12) ++violations;
      }
      INFO("kind " << static_cast<int>(kind) << " maximize " << maximize);
      CHECK(bounded > 10000);
      CHECK(violations == 0);
    }
  }
}

TEST_CASE("running top-k over chunks equals top-k of the whole library", "[kernels][topk]") {
  torch::manual_seed(4);
  const int64_t n = 50000, k = 32;
  auto mean = torch::randn({n}, torch::kFloat64);
  auto var = torch::rand({n}, torch::kFloat64) + 0.01;
  const auto p = params(AcquisitionKind::LogEI);
  auto whole = acquisition_topk(mean, var, p, k);
  RunningTopK running(k);
  // Uneven chunks, pushed out of order.
  std::vector<std::pair<int64_t, int64_t>> chunks = {{30000, 50000}, {0, 7}, {7, 12345}, {12345, 30000}};
  for (auto [a, b] : chunks) running.push_acquisition(mean.slice(0, a, b), var.slice(0, a, b), p, a);
  CHECK(running.seen() == n);
  CHECK(as_vector(running.best().indices) == as_vector(whole.indices));
  CHECK(torch::equal(running.best().values, whole.values));
}

TEST_CASE("top-k breaks ties towards the lower index and skips NaN", "[kernels][topk]") {
  auto scores = torch::tensor({1.0, 3.0, std::nan(""), 3.0, 2.0, 3.0}, torch::kFloat64);
  auto top = topk_scores(scores, 3, 100);
  CHECK(as_vector(top.indices) == std::vector<int64_t>{101, 103, 105});
  // More asked than there are numbers: every non-NaN one, best first.
  auto all = topk_scores(scores, 10);
  CHECK(as_vector(all.indices) == std::vector<int64_t>{1, 3, 5, 4, 0});
  RunningTopK r(2);
  r.push_scores(torch::tensor({5.0, 4.0}, torch::kFloat64), 10);
  r.push_scores(torch::tensor({5.0}, torch::kFloat64), 3);  // ties with 10, lower index wins
  CHECK(as_vector(r.best().indices) == std::vector<int64_t>{3, 10});
}

TEST_CASE("top-k inputs are checked", "[kernels][topk]") {
  using test::message_of;
  auto m = torch::zeros({4}, torch::kFloat64);
  auto p = params(AcquisitionKind::EI);
  CHECK_THAT(message_of<InputError>([&] { acquisition_topk(m, m, p, 0); }), Catch::Contains("k must be >= 1"));
  CHECK_THAT(message_of<InputError>([&] { acquisition_topk(m, torch::zeros({3}, torch::kFloat64), p, 1); }),
             Catch::Contains("acquisition_topk: mean and variance must have the same shape"));
  CHECK_THAT(message_of<InputError>([&] { acquisition_topk(m.view({2, 2}), m.view({2, 2}), p, 1); }),
             Catch::Contains("must be 1-D"));
  CHECK_THAT(message_of<InputError>([&] { acquisition_topk(m, m, p, 1, -5); }),
             Catch::Contains("index_offset must be >= 0"));
  CHECK_THAT(message_of<InputError>([] { RunningTopK bad(0); }), Catch::Contains("k must be >= 1"));
  // An empty chunk is fine and changes nothing.
  RunningTopK r(3);
  r.push_acquisition(torch::zeros({0}, torch::kFloat64), torch::zeros({0}, torch::kFloat64), p, 0);
  CHECK(r.best().indices.numel() == 0);
}

TEST_CASE("CUDA fused top-k matches the CPU reference", "[kernels][topk][cuda]") {
  if (!torch::cuda::is_available()) SOZAI_SKIP("no CUDA device");
  torch::manual_seed(8);
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    const int64_t n = 1 << 20;
    auto mean = torch::randn({n}, torch::dtype(dtype));
    auto var = torch::rand({n}, torch::dtype(dtype)) + 1e-3;
    for (auto kind : {AcquisitionKind::EI, AcquisitionKind::LogEI, AcquisitionKind::UCB}) {
      auto cpu = acquisition_topk(mean, var, params(kind), 64, 7);
      auto gpu = acquisition_topk(mean.cuda(), var.cuda(), params(kind), 64, 7);
      INFO("dtype " << dtype << " kind " << static_cast<int>(kind));
      CHECK(as_vector(gpu.indices.cpu()) == as_vector(cpu.indices));
      const double tol = dtype == torch::kFloat32 ? 1e-5 : 1e-12;
      CHECK(torch::allclose(gpu.values.cpu(), cpu.values, tol, tol));
    }
  }
}
