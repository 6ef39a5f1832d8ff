// CrystalGraphNet (models/gnn/crystal_net.h) on real crystal graphs from
// datasets/crystal_graph.h: invariance to atom and edge order, overfitting
// a tiny dataset, errors on bad graphs, seeded determinism, CPU/CUDA parity.

#include "common/error.h"
#include "datasets/crystal_graph.h"
#include "datasets/csv.h"
#include "models/gnn/crystal_net.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>
#include <torch/cuda.h>
#include <torch/optim/adam.h>

#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "gnn_test_util.h"

using sozai::DeviceError;
using sozai::GraphBatch;
using sozai::InputError;
using sozai::gnn::CrystalGraphNet;
using sozai::gnn::GraphModelConfig;
using sozai::gnn::GraphOutput;
using sozai::test::message_of;
using sozai::test::nll;
using sozai::test::permuted;
using Catch::Matchers::Contains;

namespace {

std::string read_structure_fixture(const std::string& name) {
  std::ifstream in(std::string(SOZAI_TEST_FIXTURES) + "/structures/" + name);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A diamond-structure POSCAR of `element` with cubic lattice constant `a`:
/// same topology as Si_vasp5.poscar, other distances, so other edge features.
std::string diamond_poscar(const std::string& element, double a) {
  std::ostringstream s;
  s << element << " diamond\n" << a << "\n  0.0 0.5 0.5\n  0.5 0.0 0.5\n  0.5 0.5 0.0\n"
    << element << "\n2\nDirect\n  0.00 0.00 0.00\n  0.25 0.25 0.25\n";
  return s.str();
}

/// Tiny real dataset: the first `n` perovskites of perov_5_val.csv with their
/// heat_ref (eV/atom) when the shared data mirror is reachable, else the
/// committed structure fixtures plus diamond variants with made-up targets.
/// Targets are returned z-scored (the trainer standardises them too).
struct TinySet {
  GraphBatch graphs;
  torch::Tensor y;  // [B] float64, mean 0, std 1
  std::string source;
};

std::string perov_path() {
  std::vector<std::string> dirs;
  if (const char* d = std::getenv("SOZAI_DATA_DIR")) dirs.emplace_back(d);
  // tests/fixtures -> repository root -> ../shared/data (where CI mirrors it).
  dirs.push_back(std::string(SOZAI_TEST_FIXTURES) + "/../../../shared/data");
  for (const auto& d : dirs) {
    const auto p = d + "/ceramics/perov_5_val.csv";
    if (std::filesystem::exists(p)) return p;
  }
  return {};
}

/// real = false: the fixtures (always present; messy.cif has partially
/// occupied sites, so node_weight pooling is exercised).
TinySet tiny_set(int64_t n = 12, bool real = true) {
  std::vector<std::string> texts;
  std::vector<double> y;
  TinySet set;
  const auto path = real ? perov_path() : std::string();
  if (!path.empty()) {
    const auto table = sozai::read_csv(path, true);
    size_t cif = table.header.size(), heat = table.header.size();
    for (size_t c = 0; c < table.header.size(); ++c) {
      if (table.header[c] == "cif") cif = c;
      if (table.header[c] == "heat_ref") heat = c;
    }
    REQUIRE(cif < table.header.size());
    REQUIRE(heat < table.header.size());
    for (int64_t r = 0; r < n; ++r) {
      texts.push_back(table.rows[r][cif]);
      y.push_back(sozai::parse_cell_double(table, r, heat, "heat_ref"));
    }
    set.source = "perov_5_val.csv heat_ref";
  } else {
    if (real) WARN("perov_5_val.csv not found (SOZAI_DATA_DIR unset): using fixtures with made-up targets");
    for (const auto* f : {"NaCl_Fm-3m.cif", "ZnO_P6_3mc.cif", "perov_5_val_row0.cif", "Si_vasp5.poscar",
                          "GaAs_vasp4_cartesian.poscar", "messy.cif"}) {
      texts.push_back(read_structure_fixture(f));
    }
    texts.push_back(diamond_poscar("Si", 5.2));
    texts.push_back(diamond_poscar("Si", 5.7));
    texts.push_back(diamond_poscar("Ge", 5.66));
    texts.push_back(diamond_poscar("C", 3.57));
    y = {-1.2, 0.4, 2.0, 0.1, -0.5, 1.1, 0.9, -0.8, 0.3, -1.6};
    set.source = "fixtures, made-up targets";
  }
  set.graphs = sozai::crystal_graphs(texts);
  auto t = torch::tensor(y, torch::kFloat64);
  set.y = (t - t.mean()) / t.std();
  return set;
}

GraphModelConfig small_config() {
  GraphModelConfig c;
  c.kind = "crystal";
  c.node_dim = 100;
  c.edge_dim = 40;
  c.hidden = 24;
  c.layers = 2;
  c.head_hidden = 24;
  return c;
}

}  // namespace

TEST_CASE("CrystalGraphNet: registers its layers and checks its config", "[gnn][crystal_net]") {
  auto c = small_config();
  CrystalGraphNet m(c);
  // embed (2) + per layer: full weight (no bias: BN_1 shifts) + 2 BatchNorms (2 each) + head (2 Linear x 2).
  CHECK(m.parameters().size() == static_cast<size_t>(2 + c.layers * 5 + 4));
  // Running statistics are buffers, so save/load and .to() carry them.
  CHECK(m.named_buffers().contains("conv1.bn_nodes.running_var"));
  auto bad = c;
  bad.layers = 0;
  CHECK_THAT(message_of<InputError>([&] { CrystalGraphNet{bad}; }), Contains("layers >= 1"));
  bad = c;
  bad.dropout = 1.0;
  CHECK_THROWS_AS(CrystalGraphNet{bad}, InputError);
  bad = c;
  bad.node_dim = 0;
  CHECK_THROWS_AS(sozai::gnn::make_crystal_graph_net(bad), InputError);
  CHECK(sozai::gnn::make_crystal_graph_net(c)->config().hidden == c.hidden);
}

TEST_CASE("CrystalGraphNet: renumbering atoms and reordering edges leaves predictions unchanged",
          "[gnn][crystal_net]") {
  const auto set = tiny_set(6);
  auto g = sozai::to_device(set.graphs, torch::kCPU, torch::kFloat64);
  torch::manual_seed(3);
  CrystalGraphNet m(small_config());
  m.to(torch::kFloat64);
  // A few training-mode passes move the BatchNorm running statistics away
  // from (0, 1), so eval() exercises non-trivial normalisation.
  m.train();
  for (int i = 0; i < 3; ++i) m.forward(g, {});
  m.eval();
  torch::NoGradGuard no_grad;
  const auto a = m.forward(g, {});
  const auto p = permuted(g, 11);
  const auto b = m.forward(p, {});
  REQUIRE(a.mean.sizes() == torch::IntArrayRef{g.num_graphs()});
  REQUIRE(a.embedding.sizes() == torch::IntArrayRef{g.num_graphs(), small_config().hidden});
  CHECK((a.mean - b.mean).abs().max().item<double>() < 1e-10);
  CHECK((a.log_var - b.log_var).abs().max().item<double>() < 1e-10);
  CHECK((a.embedding - b.embedding).abs().max().item<double>() < 1e-10);
  // The model tells the crystals apart (else invariance would be trivial).
  CHECK(a.mean.max().item<double>() - a.mean.min().item<double>() > 1e-6);
  // In eval mode a graph's output does not depend on its batch-mates.
  const auto one = m.forward(sozai::select_graphs(g, torch::tensor({2}, torch::kLong)), {});
  CHECK(std::abs(one.mean.item<double>() - a.mean[2].item<double>()) < 1e-10);
}

TEST_CASE("CrystalGraphNet: overfits a tiny real dataset and every parameter gets a gradient",
          "[gnn][crystal_net]") {
  const bool real = GENERATE(true, false);
  const auto set = tiny_set(12, real);
  INFO("dataset: " << set.source << ", " << set.graphs.num_graphs() << " crystals");
  torch::manual_seed(0);
  CrystalGraphNet m(small_config());
  m.train();
  const auto y = set.y.to(torch::kFloat32);
  auto loss_of = [&](const GraphOutput& out) {
    auto r = y - out.mean;
    return (0.5 * (out.log_var + r * r * torch::exp(-out.log_var))).mean();
  };

  {
    auto loss = loss_of(m.forward(set.graphs, {}));
    loss.backward();
    for (const auto& p : m.named_parameters()) {
      INFO("parameter " << p.key());
      REQUIRE(p.value().grad().defined());
      CHECK(p.value().grad().abs().sum().item<double>() > 0);
    }
    m.zero_grad();
  }

  m.eval();
  double start_nll, start_mse;
  {
    torch::NoGradGuard no_grad;
    auto out = m.forward(set.graphs, {});
    start_nll = nll(out, y);
    start_mse = (out.mean - y).pow(2).mean().item<double>();
  }
  m.train();
  // The fixtures hold a partially occupied crystal: weighted pooling is on.
  if (!real) REQUIRE((set.graphs.node_weight < 1).any().item<bool>());
  // Trains in rounds of 100 Adam steps until the goals below are met, for
  // at most 2000 steps. A fixed step count is fragile: on 12 crystals the
  // trajectory has short spikes (the variance head or a BatchNorm statistic
  // overshoots, then recovers within ~100 steps) whose timing depends on
  // float rounding, i.e. on the SIMD path LibTorch picks at run time (an
  // EPYC under avx2 stood at MSE 0.058, NLL -0.48 at step 400). Over seeds
  // 0-11 under ATEN_CPU_CAPABILITY=default, avx2 and avx512 every run met
  // the goals by step 200, while a spike fell on step 400 in 3 of the 36;
  // the budget is ten times what any of them needed.
  torch::optim::Adam opt(m.parameters(), torch::optim::AdamOptions(3e-3));
  double end_nll = 0, end_mse = 0;
  const int steps = sozai::test::train_in_rounds(
      100, 100, 2000,
      [&] {
        m.train();
        opt.zero_grad();
        auto loss = loss_of(m.forward(set.graphs, {}));
        loss.backward();
        opt.step();
      },
      [&] {
        m.eval();
        torch::NoGradGuard no_grad;
        auto out = m.forward(set.graphs, {});
        end_nll = nll(out, y);
        end_mse = (out.mean - y).pow(2).mean().item<double>();
        return end_mse < 0.05 && end_nll < -1.0 && end_nll < start_nll - 1.0;
      });
  INFO("after " << steps << " steps: NLL " << start_nll << " -> " << end_nll << ", MSE " << start_mse << " -> "
                << end_mse);
  CHECK(end_mse < 0.05);
  CHECK(end_nll < -1.0);
  CHECK(end_nll < start_nll - 1.0);
}

TEST_CASE("CrystalGraphNet: bad graphs give InputError", "[gnn][crystal_net]") {
  const auto set = tiny_set(4);
  const auto& g = set.graphs;
  torch::manual_seed(0);
  CrystalGraphNet m(small_config());
  m.eval();
  REQUIRE_NOTHROW(m.forward(g, {}));

  SECTION("no edges") {
    auto h = g;
    h.edge_index = torch::zeros({2, 0}, torch::kLong);
    h.edge_attr = torch::zeros({0, 40});
    h.distance = torch::zeros({0});
    h.image = torch::zeros({0, 3}, torch::kLong);
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
    h.x = g.x.narrow(1, 0, 99);
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("node features"));
    h = g;
    h.edge_attr = g.edge_attr.narrow(1, 0, 39);
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("edge features"));
  }
  SECTION("missing or unexpected conditions") {
    auto c = small_config();
    c.condition_dim = 2;
    CrystalGraphNet mc(c);
    mc.eval();
    CHECK_THAT(message_of<InputError>([&] { mc.forward(g, {}); }), Contains("conditions"));
    CHECK_THROWS_AS(mc.forward(g, torch::zeros({g.num_graphs(), 3})), InputError);
    CHECK(mc.forward(g, torch::zeros({g.num_graphs(), 2})).mean.size(0) == g.num_graphs());
    CHECK_THROWS_AS(m.forward(g, torch::zeros({g.num_graphs(), 2})), InputError);
  }
  SECTION("edge index out of range, bad occupancy") {
    auto h = g;
    h.edge_index = g.edge_index.clone();
    h.edge_index[0][0] = g.num_nodes();
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("edge_index"));
    h = g;
    h.node_weight = torch::zeros_like(g.node_weight);
    CHECK_THAT(message_of<InputError>([&] { m.forward(h, {}); }), Contains("node_weight"));
  }
  SECTION("training mode needs more than one atom; eval() takes a one-atom crystal") {
    // Simple cubic polonium: one site, its 6 periodic self-images are edges.
    auto po = sozai::crystal_graphs(std::vector<std::string>{
        "Po\n3.35\n 1 0 0\n 0 1 0\n 0 0 1\nPo\n1\nDirect\n 0 0 0\n"});
    REQUIRE(po.num_nodes() == 1);
    REQUIRE(po.num_edges() > 1);
    CHECK(std::isfinite(m.forward(po, {}).mean.item<double>()));
    m.train();
    CHECK_THAT(message_of<InputError>([&] { m.forward(po, {}); }), Contains("eval()"));
  }
}

TEST_CASE("CrystalGraphNet: the same seed gives the same initial model", "[gnn][crystal_net]") {
  const auto set = tiny_set(4);
  auto predict = [&](uint64_t seed) {
    torch::manual_seed(seed);
    CrystalGraphNet m(small_config());
    m.eval();
    torch::NoGradGuard no_grad;
    return m.forward(set.graphs, {}).mean;
  };
  const auto a = predict(42), b = predict(42), c = predict(43);
  CHECK(torch::equal(a, b));
  CHECK_FALSE(torch::allclose(a, c));
}

TEST_CASE("CrystalGraphNet: CUDA matches CPU with the same weights", "[gnn][crystal_net][cuda]") {
  if (!torch::cuda::is_available()) SOZAI_SKIP("no CUDA device");
  const auto set = tiny_set(6);
  const auto cpu_graphs = sozai::to_device(set.graphs, torch::kCPU, torch::kFloat64);
  const auto gpu_graphs = sozai::to_device(set.graphs, torch::kCUDA, torch::kFloat64);
  for (const bool training : {true, false}) {
    INFO((training ? "train()" : "eval()") << ", float64");
    torch::manual_seed(5);
    CrystalGraphNet cpu(small_config());
    torch::manual_seed(5);
    CrystalGraphNet gpu(small_config());
    cpu.to(torch::kFloat64);
    gpu.to(torch::kCUDA, torch::kFloat64);
    cpu.train(training);
    gpu.train(training);
    const auto a = cpu.forward(cpu_graphs, {});
    const auto b = gpu.forward(gpu_graphs, {});
    CHECK((a.mean - b.mean.cpu()).abs().max().item<double>() < 1e-9);
    CHECK((a.log_var - b.log_var.cpu()).abs().max().item<double>() < 1e-9);
    CHECK((a.embedding - b.embedding.cpu()).abs().max().item<double>() < 1e-9);
    (a.mean.sum() + a.log_var.sum()).backward();
    (b.mean.sum() + b.log_var.sum()).backward();
    auto pa = cpu.named_parameters();
    auto pb = gpu.named_parameters();
    for (const auto& p : pa) {
      INFO("gradient of " << p.key());
      CHECK((p.value().grad() - pb[p.key()].grad().cpu()).abs().max().item<double>() < 1e-8);
    }
    if (!training) {
      // Graphs left on the CPU for a CUDA model: a clear DeviceError.
      CHECK_THROWS_AS(gpu.forward(cpu_graphs, {}), DeviceError);
    }
  }
}

