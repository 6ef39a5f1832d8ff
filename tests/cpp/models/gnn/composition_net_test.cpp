// CompositionNet (models/gnn/composition_net.h) on real composition graphs
// from datasets/composition.h: invariance to element and edge order,
// one-element compositions, overfitting a tiny dataset, errors on bad
// graphs, seeded determinism, CPU/CUDA parity.

#include "common/error.h"
#include "datasets/composition.h"
#include "datasets/csv.h"
#include "models/gnn/composition_net.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <regex>
#include <string>
#include <vector>
#include <torch/cuda.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>

#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "gnn_test_util.h"

using sozai::DeviceError;
using sozai::GraphBatch;
using sozai::InputError;
using sozai::gnn::CompositionNet;
using sozai::gnn::GraphModelConfig;
using sozai::gnn::GraphOutput;
using sozai::test::max_abs_diff;
using sozai::test::message_of;
using sozai::test::nll;
using sozai::test::permuted;
using Catch::Matchers::Contains;

namespace {

GraphBatch graphs_of(const std::vector<std::string>& formulas) {
  std::vector<sozai::MaterialGraph> gs;
  for (const auto& f : formulas) gs.push_back(sozai::composition_graph(sozai::parse_formula(f)));
  return sozai::batch_graphs(gs);
}

std::string steels_path() {
  std::vector<std::string> dirs;
  if (const char* d = std::getenv("SOZAI_DATA_DIR")) dirs.emplace_back(d);
  // tests/fixtures -> repository root -> ../shared/data (where CI mirrors it).
  dirs.push_back(std::string(SOZAI_TEST_FIXTURES) + "/../../../shared/data");
  for (const auto& d : dirs) {
    const auto p = d + "/alloys/matbench_steels_yield.csv";
    if (std::filesystem::exists(p)) return p;
  }
  return {};
}

/// Tiny real dataset: the first `n` steels of matbench_steels_yield.csv
/// (10-14 elements each, yield strength in MPa) when the shared data mirror
/// is reachable, else hand-written alloys with made-up targets. Targets are
/// returned z-scored (the trainer standardises them too).
struct TinySet {
  std::vector<std::string> formulas;
  GraphBatch graphs;
  torch::Tensor y;  // [B] float64, mean 0, std 1
  std::string source;
};

TinySet tiny_set(int64_t n = 12) {
  TinySet set;
  std::vector<double> y;
  const auto path = steels_path();
  if (!path.empty()) {
    const auto table = sozai::read_csv(path, true);
    size_t formula = table.header.size(), target = table.header.size();
    for (size_t c = 0; c < table.header.size(); ++c) {
      if (table.header[c] == "formula") formula = c;
      if (table.header[c] == "target") target = c;
    }
    REQUIRE(formula < table.header.size());
    REQUIRE(target < table.header.size());
    for (int64_t r = 0; r < n; ++r) {
      set.formulas.push_back(table.rows[r][formula]);
      y.push_back(sozai::parse_cell_double(table, r, target, "target"));
    }
    set.source = "matbench_steels_yield.csv";
  } else {
    WARN("matbench_steels_yield.csv not found (SOZAI_DATA_DIR unset): overfitting hand-written alloys");
    const std::vector<std::string> f = {"Fe0.7Ni0.3",       "CoCrNi",          "AlCoCrFeNi",    "CoCrFeMnNi",
                                        "Fe0.98C0.02",      "Fe0.9Cr0.08C0.02", "Ni3Al",         "TiAl",
                                        "Ti0.9Al0.06V0.04", "Cu0.7Zn0.3",      "Al0.95Mg0.05", "Fe0.8Co0.2"};
    const std::vector<double> t = {200, 500, 800, 900, 350, 420, 610, 480, 880, 150, 120, 300};
    for (int64_t i = 0; i < n && i < static_cast<int64_t>(f.size()); ++i) {
      set.formulas.push_back(f[i]);
      y.push_back(t[i]);
    }
    set.source = "hand-written alloys, made-up targets";
  }
  set.graphs = graphs_of(set.formulas);
  auto t = torch::tensor(y, torch::kFloat64);
  set.y = (t - t.mean()) / t.std();
  return set;
}

GraphModelConfig small_config() {
  GraphModelConfig c;
  c.kind = "composition";
  c.node_dim = sozai::kNumElementProperties;  // 22
  c.edge_dim = 2;
  c.hidden = 24;
  c.layers = 2;
  c.head_hidden = 24;
  return c;
}

}  // namespace

TEST_CASE("CompositionNet: registers its layers and checks its config", "[gnn][composition_net]") {
  auto c = small_config();
  CompositionNet m(c);
  // embed (2) + per step: 3 heads x (gate 2 Linear + msg 2 Linear, 2 tensors each) + pow
  // + pool: the same 25 + head (3 Linear x 2).
  const int64_t attention = 3 * (4 + 4) + 1;
  CHECK(m.parameters().size() == static_cast<size_t>(2 + c.layers * attention + attention + 6));
  CHECK(m.named_parameters().contains("step1.pow"));
  CHECK(m.named_parameters().contains("pool.msg2.2.weight"));
  CHECK(m.named_parameters()["step0.pow"].sizes() == torch::IntArrayRef{3});
  auto bad = c;
  bad.hidden = 1;
  CHECK_THAT(message_of<InputError>([&] { CompositionNet{bad}; }), Contains("hidden >= 2"));
  bad = c;
  bad.layers = -1;
  CHECK_THROWS_AS(CompositionNet{bad}, InputError);
  bad = c;
  bad.dropout = 1.0;
  CHECK_THROWS_AS(CompositionNet{bad}, InputError);
  bad = c;
  bad.node_dim = 0;
  CHECK_THROWS_AS(sozai::gnn::make_composition_net(bad), InputError);
  CHECK(sozai::gnn::make_composition_net(c)->config().hidden == c.hidden);
}

TEST_CASE("CompositionNet: renumbering elements and reordering edges leaves predictions unchanged",
          "[gnn][composition_net]") {
  auto set = tiny_set(6);
  // Add hand-written alloys of 3-5 elements so small graphs are permuted too.
  auto formulas = set.formulas;
  for (const auto* f : {"AlCoCrFeNi", "Ti0.9Al0.06V0.04", "CoCrFeMnNi"}) formulas.emplace_back(f);
  auto g = sozai::to_device(graphs_of(formulas), torch::kCPU, torch::kFloat64);
  torch::manual_seed(3);
  CompositionNet m(small_config());
  m.to(torch::kFloat64);
  m.eval();
  torch::NoGradGuard no_grad;
  const auto a = m.forward(g, {});
  const auto p = permuted(g, 11);
  REQUIRE_FALSE(torch::equal(p.x, g.x));
  const auto b = m.forward(p, {});
  REQUIRE(a.mean.sizes() == torch::IntArrayRef{g.num_graphs()});
  REQUIRE(a.log_var.sizes() == torch::IntArrayRef{g.num_graphs()});
  REQUIRE(a.embedding.sizes() == torch::IntArrayRef{g.num_graphs(), small_config().hidden});
  CHECK(max_abs_diff(a.mean, b.mean) < 1e-10);
  CHECK(max_abs_diff(a.log_var, b.log_var) < 1e-10);
  CHECK(max_abs_diff(a.embedding, b.embedding) < 1e-10);
  // The model tells the compositions apart (else invariance would be trivial).
  CHECK(a.mean.max().item<double>() - a.mean.min().item<double>() > 1e-6);
  // A graph's output does not depend on its batch-mates (no BatchNorm).
  const auto one = m.forward(sozai::select_graphs(g, torch::tensor({7}, torch::kLong)), {});
  CHECK(std::abs(one.mean.item<double>() - a.mean[7].item<double>()) < 1e-10);
}

TEST_CASE("CompositionNet: one-element compositions have no edges and skip message passing",
          "[gnn][composition_net]") {
  torch::manual_seed(4);
  CompositionNet m(small_config());
  m.to(torch::kFloat64);
  m.eval();
  torch::NoGradGuard no_grad;
  // Only one-element graphs: no edge in the whole batch.
  auto solo = sozai::to_device(graphs_of({"Fe", "Cu", "Fe2"}), torch::kCPU, torch::kFloat64);
  REQUIRE(solo.num_edges() == 0);
  const auto a = m.forward(solo, {});
  REQUIRE(a.mean.size(0) == 3);
  CHECK(torch::isfinite(a.mean).all().item<bool>());
  CHECK(torch::isfinite(a.log_var).all().item<bool>());
  // Fe and Fe2 are the same composition (fraction 1).
  CHECK(std::abs(a.mean[0].item<double>() - a.mean[2].item<double>()) < 1e-12);
  CHECK(std::abs(a.mean[0].item<double>() - a.mean[1].item<double>()) > 1e-6);
  // Beside multi-element graphs (whose messages run), the same numbers.
  auto mixed = sozai::to_device(graphs_of({"Fe0.7Ni0.3", "Fe", "CoCrNi", "Cu"}), torch::kCPU, torch::kFloat64);
  const auto b = m.forward(mixed, {});
  CHECK(std::abs(b.mean[1].item<double>() - a.mean[0].item<double>()) < 1e-10);
  CHECK(std::abs(b.mean[3].item<double>() - a.mean[1].item<double>()) < 1e-10);
  CHECK(max_abs_diff(b.embedding[1], a.embedding[0]) < 1e-10);
  // A model without message passing gives the one-element graphs the same
  // output (copy the weights it shares): nothing reached them anyway.
  auto c0 = small_config();
  c0.layers = 0;
  CompositionNet m0(c0);
  m0.to(torch::kFloat64);
  m0.eval();
  auto src = m.named_parameters();
  for (auto& p : m0.named_parameters()) p.value().copy_(src[p.key()]);
  const auto z = m0.forward(mixed, {});
  CHECK(std::abs(z.mean[1].item<double>() - b.mean[1].item<double>()) < 1e-12);
  CHECK(std::abs(z.mean[3].item<double>() - b.mean[3].item<double>()) < 1e-12);
  // ... but not to the alloys, whose elements did exchange messages.
  CHECK(std::abs(z.mean[0].item<double>() - b.mean[0].item<double>()) > 1e-8);
}

TEST_CASE("CompositionNet: overfits a tiny real dataset and every parameter gets a gradient",
          "[gnn][composition_net]") {
  const auto set = tiny_set(12);
  INFO("dataset: " << set.source << ", " << set.graphs.num_graphs() << " compositions");
  torch::manual_seed(0);
  CompositionNet m(small_config());
  m.train();
  const auto y = set.y.to(torch::kFloat32);
  auto loss_of = [&](const GraphOutput& out) {
    auto r = y - out.mean;
    return (0.5 * (out.log_var + r * r * torch::exp(-out.log_var))).mean();
  };

  {
    auto loss = loss_of(m.forward(set.graphs, {}));
    loss.backward();
    // The output bias of an attention gate adds one constant to every score
    // that a softmax normalises together, so its exact gradient is zero
    // (softmax is shift-invariant): what a run shows there is float
    // rounding of a cancelling sum (about 1e-7, and exactly 0.0 for seed 1
    // under ATEN_CPU_CAPABILITY=default), so it is not checked; the gate's
    // weights are.
    const std::regex gate_output_bias(R"((^|\.)gate\d+\.(\d+)\.bias$)");
    const auto params = m.named_parameters();
    int64_t shift_invariant = 0;
    for (const auto& p : params) {
      INFO("parameter " << p.key());
      REQUIRE(p.value().grad().defined());
      std::smatch match;
      const std::string key = p.key();
      if (std::regex_search(key, match, gate_output_bias)) {
        const std::string layer = key.substr(0, key.size() - std::string("bias").size());  // "...gate0.2."
        const std::string gate = layer.substr(0, layer.size() - match[2].length() - 1);     // "...gate0."
        if (!params.contains(gate + std::to_string(std::stoi(match[2]) + 1) + ".weight")) {  // its last layer
          ++shift_invariant;
          continue;
        }
      }
      CHECK(p.value().grad().abs().sum().item<double>() > 0);
    }
    CHECK(shift_invariant > 0);  // the pattern above still names real parameters
    m.zero_grad();
  }

  double start_nll, start_mse;
  {
    torch::NoGradGuard no_grad;
    auto out = m.forward(set.graphs, {});
    start_nll = nll(out, y);
    start_mse = (out.mean - y).pow(2).mean().item<double>();
  }
  // Gaussian NLL with a learnt variance is spiky: once a variance has shrunk,
  // one step that moves a mean gives a huge gradient and can throw the model
  // back to a constant. The trainer clips gradients for that reason, and so
  // does this loop (norm 1, lr 1e-3). It trains in rounds of 100 steps until
  // the goals below are met, for at most 2000 steps: a fixed step count is
  // fragile, because where a spike falls depends on float rounding, i.e. on
  // the SIMD path LibTorch picks at run time (under
  // ATEN_CPU_CAPABILITY=default seed 0 stood at NLL -0.997 after 500 steps).
  // Over seeds 0-11 under default, avx2 and avx512 every run met the goals
  // by step 300 (most by 200); the budget is over six times that.
  torch::optim::Adam opt(m.parameters(), torch::optim::AdamOptions(1e-3));
  double end_nll = 0, end_mse = 0;
  const int steps = sozai::test::train_in_rounds(
      100, 100, 2000,
      [&] {
        opt.zero_grad();
        auto loss = loss_of(m.forward(set.graphs, {}));
        loss.backward();
        torch::nn::utils::clip_grad_norm_(m.parameters(), 1.0);
        opt.step();
      },
      [&] {
        torch::NoGradGuard no_grad;
        auto out = m.forward(set.graphs, {});
        end_nll = nll(out, y);
        end_mse = (out.mean - y).pow(2).mean().item<double>();
        return end_mse < 0.05 && end_nll < -1.0 && end_nll < start_nll - 1.0;
      });
  INFO("after " << steps << " steps: NLL " << start_nll << " -> " << end_nll << ", MSE " << start_mse << " -> "
                << end_mse);
  // The targets are z-scored, so a model that ignores the composition does
  // at best MSE = 1 and NLL = 0.5 (constant mean 0, variance 1). Below 0.05
  // the model explains > 95% of the variance, and an NLL below -1 needs both
  // an accurate mean and a variance it has learnt to shrink: neither is
  // reachable without telling the steels apart, which differ only in
  // fractions of a percent of their minor elements.
  CHECK(end_mse < 0.05);
  CHECK(end_nll < -1.0);
  CHECK(end_nll < start_nll - 1.0);
}

TEST_CASE("CompositionNet: process conditions reach the head and can be fitted", "[gnn][composition_net]") {
  // One composition processed two ways (e.g. cast vs wrought, two
  // temperatures): only the conditions can tell the targets apart.
  auto g = graphs_of({"CoCrFeMnNi", "CoCrFeMnNi", "AlCoCrFeNi", "AlCoCrFeNi"});
  auto cond = torch::tensor({0.0, 1.0, 0.0, 1.0}).reshape({4, 1});
  auto y = torch::tensor({-1.0f, 1.0f, 0.5f, -0.5f});
  auto c = small_config();
  c.condition_dim = 1;
  torch::manual_seed(1);
  CompositionNet m(c);
  torch::optim::Adam opt(m.parameters(), torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    auto loss = (m.forward(g, cond).mean - y).pow(2).mean();
    loss.backward();
    opt.step();
  }
  torch::NoGradGuard no_grad;
  auto mse = (m.forward(g, cond).mean - y).pow(2).mean().item<double>();
  INFO("MSE " << mse << " (a model blind to the conditions does at best 0.625)");
  CHECK(mse < 0.05);
}

TEST_CASE("CompositionNet: bad graphs give InputError", "[gnn][composition_net]") {
  const auto g = graphs_of({"Fe0.7Ni0.3", "CoCrNi", "AlCoCrFeNi", "Cu"});
  torch::manual_seed(0);
  CompositionNet m(small_config());
  m.eval();
  REQUIRE_NOTHROW(m.forward(g, {}));

  SECTION("several elements but no edges") {
    auto h = g;
    h.edge_index = torch::zeros({2, 0}, torch::kLong);
    h.edge_attr = torch::zeros({0, 2});
    h.edge_ptr = torch::zeros({g.num_graphs() + 1}, torch::kLong);
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("no edges"));
  }
  SECTION("NaN node or edge features") {
    auto h = g;
    h.x = g.x.clone();
    h.x[1][3] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("NaN"));
    h = g;
    h.edge_attr = g.edge_attr.clone();
    h.edge_attr[5][0] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("NaN"));
  }
  SECTION("wrong feature widths") {
    auto h = g;
    h.x = g.x.narrow(1, 0, 21);
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("node features"));
    h = g;
    h.edge_attr = g.edge_attr.narrow(1, 0, 1);
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("edge features"));
  }
  SECTION("missing, zero or NaN fractions") {
    auto h = g;
    h.node_weight = torch::Tensor();
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("node_weight"));
    h.node_weight = g.node_weight.clone();
    h.node_weight[0] = 0.0;
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("> 0"));
    h.node_weight[0] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("finite"));
    h.node_weight = g.node_weight.narrow(0, 0, 3);
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("node_weight"));
  }
  SECTION("missing or unexpected conditions") {
    auto c = small_config();
    c.condition_dim = 2;
    CompositionNet mc(c);
    mc.eval();
    CHECK_THAT(message_of<InputError>([&] { mc.forward(g, {}); }), Contains("conditions"));
    CHECK_THROWS_AS(mc.forward(g, torch::zeros({g.num_graphs(), 3})), InputError);
    auto nan_cond = torch::zeros({g.num_graphs(), 2});
    nan_cond[0][1] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THAT(message_of<InputError>([&] { mc.forward(g, nan_cond); }), Contains("NaN"));
    CHECK(mc.forward(g, torch::zeros({g.num_graphs(), 2})).mean.size(0) == g.num_graphs());
    CHECK_THROWS_AS(m.forward(g, torch::zeros({g.num_graphs(), 2})), InputError);
  }
  SECTION("edge index out of range or across graphs") {
    auto h = g;
    h.edge_index = g.edge_index.clone();
    h.edge_index[0][0] = g.num_nodes();
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("edge_index"));
    h.edge_index = g.edge_index.clone();
    h.edge_index[0][0] = g.num_nodes() - 1;  // Cu, the last graph
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("two different graphs"));
  }
}

TEST_CASE("CompositionNet: the same seed gives the same initial model", "[gnn][composition_net]") {
  const auto set = tiny_set(4);
  auto predict = [&](uint64_t seed) {
    torch::manual_seed(seed);
    CompositionNet m(small_config());
    m.eval();
    torch::NoGradGuard no_grad;
    return m.forward(set.graphs, {}).mean;
  };
  const auto a = predict(42), b = predict(42), c = predict(43);
  CHECK(torch::equal(a, b));
  CHECK_FALSE(torch::allclose(a, c));
}

TEST_CASE("CompositionNet: CUDA matches CPU with the same weights", "[gnn][composition_net][cuda]") {
  if (!torch::cuda::is_available()) SOZAI_SKIP("no CUDA device");
  auto set = tiny_set(6);
  auto formulas = set.formulas;
  formulas.emplace_back("Fe");  // a graph without edges beside the others
  const auto g = graphs_of(formulas);
  const auto cpu_graphs = sozai::to_device(g, torch::kCPU, torch::kFloat64);
  const auto gpu_graphs = sozai::to_device(g, torch::kCUDA, torch::kFloat64);
  auto c = small_config();
  c.condition_dim = 2;
  const auto cond = torch::randn({g.num_graphs(), 2}, torch::kFloat64);
  torch::manual_seed(5);
  CompositionNet cpu(c);
  torch::manual_seed(5);
  CompositionNet gpu(c);
  cpu.to(torch::kFloat64);
  gpu.to(torch::kCUDA, torch::kFloat64);
  const auto a = cpu.forward(cpu_graphs, cond);
  const auto b = gpu.forward(gpu_graphs, cond.to(torch::kCUDA));
  INFO("float64, " << g.num_graphs() << " compositions, conditions [B, 2]");
  CHECK(max_abs_diff(a.mean, b.mean.cpu()) < 1e-9);
  CHECK(max_abs_diff(a.log_var, b.log_var.cpu()) < 1e-9);
  CHECK(max_abs_diff(a.embedding, b.embedding.cpu()) < 1e-9);
  (a.mean.sum() + a.log_var.sum()).backward();
  (b.mean.sum() + b.log_var.sum()).backward();
  auto pa = cpu.named_parameters();
  auto pb = gpu.named_parameters();
  for (const auto& p : pa) {
    INFO("gradient of " << p.key());
    CHECK(max_abs_diff(p.value().grad(), pb[p.key()].grad().cpu()) < 1e-8);
  }
  // Graphs left on the CPU for a CUDA model: a clear DeviceError.
  CHECK_THROWS_AS(gpu.forward(cpu_graphs, cond.to(torch::kCUDA)), DeviceError);
}
