// Analytic acquisitions against closed forms on hand-made posteriors (no GP
// fit involved), LogEI's tail, CUDA parity and input checks.

#include "common/error.h"
#include "kernels/acquisition.h"

#include <torch/cuda.h>

#include <cmath>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>
#include "../test_util.h"

using namespace sozai;
using namespace sozai::kernels;

namespace {

double phi(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI); }
double Phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

AcquisitionParams params(AcquisitionKind k, double best, bool maximize = true, double beta = 4.0) {
  AcquisitionParams p;
  p.kind = k;
  p.best_f = best;
  p.maximize = maximize;
  p.beta = beta;
  return p;
}

double eval1(AcquisitionKind k, double mean, double var, double best, bool maximize = true, double beta = 4.0) {
  auto m = torch::tensor({mean}, torch::kFloat64);
  auto v = torch::tensor({var}, torch::kFloat64);
  return analytic_acquisition(m, v, params(k, best, maximize, beta)).item<double>();
}

}  // namespace

TEST_CASE("EI, LogEI, UCB and PI equal their closed forms", "[kernels][acquisition]") {
  const double means[] = {-1.3, 0.0, 0.4, 2.5};
  const double vars[] = {0.09, 0.5, 1.0, 4.0};  // keeps |z| < 8: the closed form cancels beyond
  const double best = 0.3;
  for (double m : means) {
    for (double v : vars) {
      const double s = std::sqrt(v);
      for (bool maximize : {true, false}) {
        const double z = (maximize ? (m - best) : (best - m)) / s;
        const double ei = s * (phi(z) + z * Phi(z));
        INFO("mean=" << m << " var=" << v << " maximize=" << maximize);
        CHECK(eval1(AcquisitionKind::EI, m, v, best, maximize) == Approx(ei).epsilon(1e-11));
        CHECK(eval1(AcquisitionKind::LogEI, m, v, best, maximize) == Approx(std::log(ei)).epsilon(1e-10));
        CHECK(eval1(AcquisitionKind::PI, m, v, best, maximize) == Approx(Phi(z)).epsilon(1e-12));
        const double ucb = (maximize ? m : -m) + 2.0 * s;  // beta = 4
        CHECK(eval1(AcquisitionKind::UCB, m, v, best, maximize) == Approx(ucb).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("LogEI stays finite and monotone far in the tail", "[kernels][acquisition]") {
  // z from +5 down to -40 and beyond, where EI itself underflows to 0.
  std::vector<double> zs;
  for (double z = 5.0; z >= -40.0; z -= 0.05) zs.push_back(z);
  for (double z : {-100.0, -1e3, -1e5, -1e6, -1e7, -1e10}) zs.push_back(z);
  auto mean = torch::tensor(zs, torch::kFloat64);  // sigma = 1, best = 0 -> z = mean
  auto var = torch::ones_like(mean);
  auto logei = analytic_acquisition(mean, var, params(AcquisitionKind::LogEI, 0.0));
  auto ei = analytic_acquisition(mean, var, params(AcquisitionKind::EI, 0.0));
  REQUIRE(torch::isfinite(logei).all().item<bool>());
  auto a = logei.accessor<double, 1>();
  for (int64_t i = 1; i < logei.size(0); ++i) {
    INFO("z=" << zs[i]);
    CHECK(a[i] < a[i - 1]);
  }
  // Where EI is representable, LogEI equals its log.
  auto e = ei.accessor<double, 1>();
  for (int64_t i = 0; i < logei.size(0); ++i) {
    if (e[i] > 1e-250) {
      INFO("z=" << zs[i]);
      CHECK(a[i] == Approx(std::log(e[i])).epsilon(1e-7));
    }
  }
  // EI in the tail keeps its relative precision (it is exp(LogEI) there).
  for (int64_t i = 0; i < logei.size(0); ++i)
    if (e[i] > 0) CHECK(e[i] == Approx(std::exp(a[i])).epsilon(1e-12));
  // Asymptote: log h(z) ~ log phi(z) - 2 log|z| for z -> -inf.
  const double z = -40.0;
  const double asym = -0.5 * z * z - 0.5 * std::log(2 * M_PI) - 2.0 * std::log(40.0);
  CHECK(eval1(AcquisitionKind::LogEI, z, 1.0, 0.0) == Approx(asym).epsilon(1e-3));
}

TEST_CASE("float32 inputs give float32 values equal to the float64 ones", "[kernels][acquisition]") {
  auto m = torch::linspace(-3, 3, 101, torch::kFloat64);
  auto v = torch::full({101}, 0.7, torch::kFloat64);
  for (auto k : {AcquisitionKind::EI, AcquisitionKind::LogEI, AcquisitionKind::UCB, AcquisitionKind::PI}) {
    auto d = analytic_acquisition(m, v, params(k, 0.2));
    auto f = analytic_acquisition(m.to(torch::kFloat32), v.to(torch::kFloat32), params(k, 0.2));
    CHECK(f.scalar_type() == torch::kFloat32);
    CHECK(torch::allclose(f.to(torch::kFloat64), d, 1e-5, 1e-6));
  }
}

TEST_CASE("bad acquisition input gives clear errors", "[kernels][acquisition]") {
  auto m = torch::zeros({3}, torch::kFloat64);
  CHECK_THROWS_AS(analytic_acquisition(m, torch::zeros({4}, torch::kFloat64), params(AcquisitionKind::EI, 0)),
                  InputError);
  CHECK_THROWS_WITH(analytic_acquisition(m, torch::zeros({4}, torch::kFloat64), params(AcquisitionKind::EI, 0)),
                    Catch::Contains("same shape"));
  CHECK_THROWS_AS(analytic_acquisition(m, torch::zeros({3}, torch::kFloat32), params(AcquisitionKind::EI, 0)),
                  InputError);
  CHECK_THROWS_AS(analytic_acquisition(m.to(torch::kInt64), torch::zeros({3}, torch::kInt64),
                                       params(AcquisitionKind::EI, 0)),
                  InputError);
  CHECK_THROWS_WITH(analytic_acquisition(m, m, params(AcquisitionKind::UCB, 0, true, -1.0)),
                    Catch::Contains("beta"));
  // The kernels evaluate the analytic kinds; the sampled ones live in core/bo.
  CHECK_THROWS_WITH(analytic_acquisition(m, m, params(AcquisitionKind::qLogNEI, 0)),
                    Catch::Contains("evaluate ei, logei, ucb and pi"));
}

TEST_CASE("CUDA acquisition matches the CPU reference", "[kernels][acquisition][cuda]") {
  if (!torch::cuda::is_available()) SOZAI_SKIP("no CUDA device");
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    auto m = torch::randn({100000}, dtype) * 3;
    auto v = torch::rand({100000}, dtype) * 2 + 1e-6;
    for (auto k : {AcquisitionKind::EI, AcquisitionKind::LogEI, AcquisitionKind::UCB, AcquisitionKind::PI}) {
      auto cpu = analytic_acquisition(m, v, params(k, 0.5));
      auto gpu = analytic_acquisition(m.cuda(), v.cuda(), params(k, 0.5)).cpu();
      INFO("kind=" << static_cast<int>(k) << " dtype=" << dtype);
      const double tol = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
      CHECK(torch::allclose(gpu, cpu, tol, tol));
    }
  }
}
