/// Tests of PolymerMPNN (directed-bond message passing) on real repeat-unit
/// graphs from polymer_graphs: invariance to the numbering of atoms and
/// bonds, fraction-weighted pooling, lone ions, overfitting a dozen real
/// glass transition temperatures, errors on bad graphs, seeding, and CPU/CUDA
/// parity where a GPU exists.

#include "common/error.h"
#include "datasets/graph.h"
#include "datasets/polymer.h"
#include "models/gnn/polymer_mpnn.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>
#include <torch/cuda.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "gnn_test_util.h"

namespace {

using Catch::Matchers::Contains;
using sozai::GraphBatch;
using sozai::InputError;
using sozai::MaterialGraph;
using sozai::gnn::GraphModel;
using sozai::gnn::GraphModelConfig;
using sozai::gnn::GraphOutput;
using sozai::gnn::make_polymer_mpnn;
using sozai::test::max_abs_diff;
using sozai::test::message_of;

GraphModelConfig config(int64_t condition_dim = 0, int64_t hidden = 32) {
  GraphModelConfig c;
  c.kind = "polymer";
  c.node_dim = static_cast<int64_t>(sozai::polymer_atom_feature_names().size());
  c.edge_dim = static_cast<int64_t>(sozai::polymer_bond_feature_names().size());
  c.condition_dim = condition_dim;
  c.hidden = hidden;
  c.layers = 3;
  c.head_hidden = hidden;
  return c;
}


/// The same graph with its atoms renumbered (node i becomes perm[i]) and its
/// bonds shuffled, each bond's two directions swapped at random: every
/// reordering that keeps the layout "reverse of edge k at k ^ 1".
MaterialGraph renumber(const MaterialGraph& g, torch::Tensor perm) {
  MaterialGraph out = g;
  out.x = torch::zeros_like(g.x).index_copy_(0, perm, g.x);
  out.atomic_number = torch::zeros_like(g.atomic_number).index_copy_(0, perm, g.atomic_number);
  const int64_t bonds = g.num_edges() / 2;
  const auto bond_order = torch::randperm(bonds, torch::kLong);
  const auto flip = torch::randint(0, 2, {bonds}, torch::kLong);
  const auto order = torch::stack({2 * bond_order + flip, 2 * bond_order + 1 - flip}, 1).reshape({-1});
  out.edge_index = perm.index_select(0, g.edge_index.reshape({-1})).view({2, -1}).index_select(1, order);
  out.edge_attr = g.edge_attr.index_select(0, order);
  out.periodic = g.periodic.index_select(0, order);
  return out;
}

/// A dozen rows of polymers/Tg_Original.csv (repeat unit, Tg in °C): vinyl
/// polymers with alkyl, ester, ether and aromatic side groups, and
/// polyethylene, whose periodic bond is a self-loop.
const std::vector<std::string> kSmiles = {
    "*C*",          "*C(C*)C",          "*C(C*)CC",          "*C(C*)C(C)C",
    "*C(C*)CC(C)C", "*C(C*)(C)C",       "*C(C*)C1CCCC1",     "*C(C*)OC(=O)C",
    "*C(C*)OC(=O)c1ccccc1", "*C(C*)c1ccccc1", "*C(C*)Cc1ccccc1", "*C(C*)OCCCCCC"};
const std::vector<double> kTg = {-63.48, -2.73, -22.54, 10.97, 45.5, -65.41,
                                 75.0,   34.27, 70.29,  92.74, 63.33, -75.5};

torch::Tensor gaussian_nll(const GraphOutput& out, const torch::Tensor& y) {
  return 0.5 * (out.log_var + (y - out.mean).pow(2) * torch::exp(-out.log_var)).mean();
}

}  // namespace

TEST_CASE("polymer_mpnn: renumbering atoms and reordering bonds leaves the output unchanged",
          "[gnn][polymer_mpnn]") {
  torch::manual_seed(3);
  auto model = make_polymer_mpnn(config());
  model->to(torch::kFloat64);
  model->eval();
  // An ester with a ring and a periodic pair, and polyethylene (self-loop pair).
  const auto batch = sozai::polymer_graphs({"*C(C*)OC(=O)c1ccccc1", "*C*"});
  const auto ref = model->forward(batch, {});

  for (int trial = 0; trial < 3; ++trial) {
    std::vector<MaterialGraph> moved;
    for (int64_t i = 0; i < batch.num_graphs(); ++i) {
      const auto g = batch.graph(i);
      auto perm = torch::randperm(g.num_nodes(), torch::kLong);
      moved.push_back(renumber(g, perm));
    }
    REQUIRE_FALSE(torch::equal(moved[0].edge_index, batch.graph(0).edge_index));
    const auto out = model->forward(sozai::batch_graphs(moved), {});
    INFO("trial " << trial);
    CHECK(max_abs_diff(out.mean, ref.mean) < 1e-10);
    CHECK(max_abs_diff(out.log_var, ref.log_var) < 1e-10);
    CHECK(max_abs_diff(out.embedding, ref.embedding) < 1e-10);
  }

  // The graphs of a batch are independent: reversing their order reverses the outputs.
  const auto swapped = sozai::select_graphs(batch, torch::tensor({1, 0}, torch::kLong));
  const auto out = model->forward(swapped, {});
  CHECK(max_abs_diff(out.mean, ref.mean.flip({0})) < 1e-10);
  CHECK(max_abs_diff(out.embedding, ref.embedding.flip({0})) < 1e-10);
}

TEST_CASE("polymer_mpnn: matches a loop-by-loop transcription of the D-MPNN equations", "[gnn][polymer_mpnn]") {
  // An independent oracle: the equations of Yang et al. written edge by edge
  // with the weights read back by name, the reverse bond found by search
  // (not by k ^ 1), in float64. The search matches the bond features too: in
  // a vinyl repeat unit (*C(C*)...) the periodic bond joins the same two
  // atoms as an ordinary one (to the neighbouring images), and the endpoints
  // alone would pair an ordinary direction with a periodic one.
  torch::manual_seed(8);
  auto model = make_polymer_mpnn(config());
  model->to(torch::kFloat64);
  model->eval();
  const auto batch = sozai::polymer_graphs({"*C(C*)OC(=O)c1ccccc1", "*C*", "*C(C*)CC(C)C"});
  const auto out = model->forward(batch, {});
  auto p = model->named_parameters();
  const auto x = batch.x.to(torch::kFloat64);
  const auto ea = batch.edge_attr.to(torch::kFloat64);
  const int64_t e = batch.num_edges();
  const auto ei = batch.edge_index.accessor<int64_t, 2>();
  std::vector<int64_t> rev(e, -1);
  for (int64_t k = 0; k < e; ++k) {
    for (int64_t j = 0; j < e; ++j)
      if (j != k && ei[0][j] == ei[1][k] && ei[1][j] == ei[0][k] && torch::equal(ea[j], ea[k])) {
        REQUIRE(rev[k] == -1);  // one reverse per edge, else the oracle is ambiguous
        rev[k] = j;
      }
    REQUIRE(rev[k] >= 0);
  }

  std::vector<torch::Tensor> h0(e), h(e);
  for (int64_t k = 0; k < e; ++k) {
    h0[k] = torch::relu(torch::mv(p["w_i.weight"], torch::cat({x[ei[0][k]], ea[k]})));
    h[k] = h0[k];
  }
  for (int64_t t = 0; t < config().layers; ++t) {
    std::vector<torch::Tensor> next(e);
    for (int64_t k = 0; k < e; ++k) {
      auto m = -h[rev[k]];
      for (int64_t j = 0; j < e; ++j)
        if (ei[1][j] == ei[0][k]) m = m + h[j];
      next[k] = torch::relu(h0[k] + torch::mv(p["w_m.weight"], m));
    }
    h = next;
  }
  const auto ptr = batch.ptr.accessor<int64_t, 1>();
  for (int64_t b = 0; b < batch.num_graphs(); ++b) {
    auto pooled = torch::zeros({config().hidden}, torch::kFloat64);
    for (int64_t v = ptr[b]; v < ptr[b + 1]; ++v) {
      auto in = torch::zeros({config().hidden}, torch::kFloat64);
      for (int64_t j = 0; j < e; ++j)
        if (ei[1][j] == v) in = in + h[j];
      pooled = pooled + torch::relu(torch::mv(p["w_o.weight"], torch::cat({x[v], in})) + p["w_o.bias"]);
    }
    pooled = pooled / static_cast<double>(ptr[b + 1] - ptr[b]);
    const auto hidden = torch::silu(torch::mv(p["head.0.weight"], pooled) + p["head.0.bias"]);
    const auto head = torch::mv(p["head.2.weight"], hidden) + p["head.2.bias"];
    INFO("graph " << b);
    CHECK(max_abs_diff(out.embedding[b], pooled) < 1e-10);
    CHECK(std::abs(out.mean[b].item<double>() - head[0].item<double>()) < 1e-10);
    CHECK(std::abs(out.log_var[b].item<double>() - head[1].item<double>()) < 1e-10);
  }
}

TEST_CASE("polymer_mpnn: the messages use the bonds (a different graph gives a different output)",
          "[gnn][polymer_mpnn]") {
  // Guards the invariance test against a model that ignores the edges: the
  // two repeat units have the same atoms (CH, 3 CH2, CH3, by features) and the
  // same bond features, only the connectivity differs (a propyl side group
  // on a 2-carbon backbone vs an ethyl side group on a 3-carbon backbone).
  torch::manual_seed(5);
  auto model = make_polymer_mpnn(config());
  model->to(torch::kFloat64);
  model->eval();
  const auto out = model->forward(sozai::polymer_graphs({"*C(C*)CCC", "*C(CC*)CC"}), {});
  CHECK(std::abs(out.mean[0].item<double>() - out.mean[1].item<double>()) > 1e-6);
}

TEST_CASE("polymer_mpnn: node_weight gives the weighted mean of the node states", "[gnn][polymer_mpnn]") {
  torch::manual_seed(4);
  auto model = make_polymer_mpnn(config());
  model->to(torch::kFloat64);
  model->eval();
  auto batch = sozai::polymer_graphs({"*C(C*)OC(=O)c1ccccc1"});
  const int64_t n = batch.num_nodes();

  // With a one-hot weight the pooled embedding is that node's state h_i.
  std::vector<torch::Tensor> states;
  for (int64_t i = 0; i < n; ++i) {
    batch.node_weight = torch::zeros({n}, torch::kFloat32);
    batch.node_weight[i] = 1.0f;
    states.push_back(model->forward(batch, {}).embedding[0]);
  }
  const auto h = torch::stack(states);  // [N, H]
  const auto w = torch::rand({n}, torch::kFloat64) + 0.1;
  batch.node_weight = w.to(torch::kFloat32);
  const auto w32 = batch.node_weight.to(torch::kFloat64);
  const auto expected = (h * w32.unsqueeze(1)).sum(0) / w32.sum();
  CHECK(max_abs_diff(model->forward(batch, {}).embedding[0], expected) < 1e-10);

  // Equal weights (one component of a blend) give the plain mean.
  batch.node_weight = torch::full({n}, 0.3f);
  const auto weighted = model->forward(batch, {}).embedding;
  batch.node_weight = torch::Tensor();
  const auto plain = model->forward(batch, {}).embedding;
  CHECK(max_abs_diff(weighted, plain) < 1e-10);
  CHECK(max_abs_diff(plain[0], h.mean(0)) < 1e-10);

  batch.node_weight = torch::zeros({n}, torch::kFloat32);
  CHECK_THROWS_WITH(model->forward(batch, {}), Contains("summing to 0"));
  batch.node_weight = torch::ones({n}, torch::kFloat32);
  batch.node_weight[0] = -1.0f;
  CHECK_THROWS_AS(model->forward(batch, {}), InputError);
}

TEST_CASE("polymer_mpnn: a lone ion (one atom, no bond) gets ReLU(W_o [x, 0])", "[gnn][polymer_mpnn]") {
  torch::manual_seed(6);
  auto model = make_polymer_mpnn(config());
  model->to(torch::kFloat64);
  model->eval();
  const auto ion = sozai::polymer_graph("[Na+]");
  REQUIRE(ion.num_nodes() == 1);
  REQUIRE(ion.num_edges() == 0);

  const auto alone = model->forward(sozai::batch_graphs({ion}), {});
  const auto params = model->named_parameters();
  const auto x = ion.x.to(torch::kFloat64);
  const auto input = torch::cat({x, torch::zeros({1, config().hidden}, torch::kFloat64)}, 1);
  const auto expected = torch::relu(torch::matmul(input, params["w_o.weight"].t()) + params["w_o.bias"]);
  CHECK(max_abs_diff(alone.embedding, expected) < 1e-12);
  CHECK(torch::isfinite(alone.mean).all().item<bool>());

  // Beside a molecule with bonds, the ion's output is the same.
  const auto mixed = model->forward(sozai::batch_graphs({sozai::polymer_graph("CCO"), ion}), {});
  CHECK(max_abs_diff(mixed.mean[1], alone.mean[0]) < 1e-12);
  CHECK(max_abs_diff(mixed.embedding[1], alone.embedding[0]) < 1e-12);
}

TEST_CASE("polymer_mpnn: overfits a dozen real Tg values and every parameter gets a gradient",
          "[gnn][polymer_mpnn]") {
  torch::manual_seed(0);
  auto model = make_polymer_mpnn(config(0, 64));
  model->train();
  const auto batch = sozai::polymer_graphs(kSmiles);
  auto y = torch::tensor(kTg, torch::kFloat32);
  y = (y - y.mean()) / y.std();  // standardised, as the trainer feeds targets

  {
    auto loss = gaussian_nll(model->forward(batch, {}), y);
    loss.backward();
    for (const auto& p : model->named_parameters()) {
      INFO("parameter " << p.key());
      REQUIRE(p.value().grad().defined());
      CHECK(p.value().grad().abs().sum().item<double>() > 0);
    }
    model->zero_grad();
  }

  // As the trainer does: fit the mean first (MSE), then the Gaussian NLL at
  // a lower rate; NLL from the start lets log_var absorb the error so the
  // mean lags, and at a high rate the shrinking variances make it jumpy.
  //
  // Each phase trains in rounds (300 MSE steps, then 100 at a time; the NLL
  // phase 50 at a time) until its goal below is met, within a budget. A
  // fixed step count is fragile: the NLL phase has short spikes whose timing
  // depends on float rounding, i.e. on the SIMD path LibTorch picks at run
  // time (an EPYC under avx2 stood at MSE 0.071 at step 600). Over seeds
  // 0-11 under ATEN_CPU_CAPABILITY=default, avx2 and avx512, 4 of the 36
  // runs missed a goal at the old fixed steps (300 and 600); in rounds all
  // 36 met them within 400 MSE and 150 NLL steps, far inside the budgets.
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
  double mse0 = 0, nll0 = 0, mse_warm = 0, mse = 0, nll = 0;
  int warmup = 0, steps = 0;
  // Runs `n` steps on the MSE (or NLL) loss; returns the MSE and NLL of the
  // model after them, as measured in the next forward pass.
  auto train = [&](int n, bool on_nll) {
    for (int i = 0; i <= n; ++i) {
      opt.zero_grad();
      const auto out = model->forward(batch, {});
      const auto sq = (out.mean - y).pow(2).mean();
      const auto nll_t = gaussian_nll(out, y);
      if (i == n) return std::make_pair(sq.item<double>(), nll_t.item<double>());
      (on_nll ? nll_t : sq).backward();
      opt.step();
    }
    return std::make_pair(0.0, 0.0);
  };
  std::tie(mse0, nll0) = train(0, false);
  for (int n = 300; warmup < 1500 && (warmup == 0 || mse_warm >= 0.01); n = 100) {
    mse_warm = train(n, false).first;
    warmup += n;
  }
  static_cast<torch::optim::AdamOptions&>(opt.param_groups()[0].options()).lr(1e-3);
  do {
    std::tie(mse, nll) = train(50, true);
    steps += 50;
  } while ((mse >= 0.05 || nll >= nll0 - 1.0) && steps < 2000);
  INFO(warmup << " MSE steps, then " << steps << " NLL steps");
  INFO("MSE " << mse0 << " -> " << mse_warm << " (after the MSE phase) -> " << mse << ", NLL " << nll0 << " -> "
              << nll);
  // Targets have unit variance and the initial MSE is ~0.9. The MSE phase
  // memorises the 12 distinct polymers to MSE < 0.01 (after 300 steps the
  // 36 runs above stood at 2e-9 .. 0.016, a fall by a factor > 50); a
  // forward that loses the graph, or a gradient that does not flow, stays
  // near 1. The NLL phase may loosen the mean a little, yet it must stay
  // within MSE 0.05. The NLL starts near 0.5 (log_var ~ 0); even a perfect
  // mean with log_var stuck at 0 gives NLL 0, so falling by more than 1 nat
  // needs the variance head to learn small variances too (most checkpoints
  // of the 36 runs stood at -1.5 .. -4.4 below the start).
  CHECK(mse_warm < 0.01);
  CHECK(mse < 0.05);
  CHECK(nll < nll0 - 1.0);
}

TEST_CASE("polymer_mpnn: bad graphs give InputError", "[gnn][polymer_mpnn]") {
  torch::manual_seed(1);
  auto model = make_polymer_mpnn(config());
  const auto good = sozai::polymer_graphs({"*C(C*)OC(=O)C", "*C(C*)CC"});
  REQUIRE_NOTHROW(model->forward(good, {}));

  SECTION("several atoms and no bond") {
    auto b = sozai::polymer_graphs({"CCO"});
    b.edge_index = b.edge_index.narrow(1, 0, 0);
    b.edge_attr = b.edge_attr.narrow(0, 0, 0);
    b.periodic = b.periodic.narrow(0, 0, 0);
    b.edge_ptr = torch::zeros_like(b.edge_ptr);
    CHECK_THROWS_WITH(model->forward(b, {}), Contains("no edges"));
  }
  SECTION("NaN node or edge features") {
    auto b = good;
    b.x = b.x.clone();
    b.x[2][0] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(model->forward(b, {}), Contains("NaN"));
    b = good;
    b.edge_attr = b.edge_attr.clone();
    b.edge_attr[1][0] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(model->forward(b, {}), Contains("NaN"));
  }
  SECTION("wrong feature widths") {
    auto b = good;
    b.x = b.x.narrow(1, 0, b.x.size(1) - 1);
    CHECK_THROWS_WITH(model->forward(b, {}), Contains("node features"));
    b = good;
    b.edge_attr = b.edge_attr.narrow(1, 0, b.edge_attr.size(1) - 1);
    CHECK_THROWS_WITH(model->forward(b, {}), Contains("edge features"));
  }
  SECTION("conditions missing, of the wrong width, or unexpected") {
    auto conditioned = make_polymer_mpnn(config(2));
    CHECK_THROWS_AS(conditioned->forward(good, {}), InputError);
    CHECK_THROWS_AS(conditioned->forward(good, torch::zeros({2, 1})), InputError);
    CHECK_NOTHROW(conditioned->forward(good, torch::zeros({2, 2})));
    CHECK_THROWS_AS(model->forward(good, torch::zeros({2, 2})), InputError);
  }
  SECTION("an edge whose reverse is not at k ^ 1") {
    auto b = good;
    // Swap edges 0 and 2: directions of two different bonds now sit side by side.
    auto order = torch::arange(b.num_edges(), torch::kLong);
    order[0] = 2;
    order[2] = 0;
    b.edge_index = b.edge_index.index_select(1, order);
    b.edge_attr = b.edge_attr.index_select(0, order);
    const auto msg = message_of<InputError>([&] { model->forward(b, {}); });
    CHECK_THAT(msg, Contains("edge 0") && Contains("reverse"));
  }
  SECTION("an odd number of edges") {
    auto b = sozai::polymer_graphs({"*C(C*)CC"});
    const int64_t e = b.num_edges() - 1;
    b.edge_index = b.edge_index.narrow(1, 0, e);
    b.edge_attr = b.edge_attr.narrow(0, 0, e);
    b.periodic = b.periodic.narrow(0, 0, e);
    b.edge_ptr[1] = e;
    CHECK_THROWS_WITH(model->forward(b, {}), Contains("must be even"));
  }
  SECTION("edge indices out of range") {
    auto b = good;
    b.edge_index = b.edge_index.clone();
    b.edge_index[0][0] = b.num_nodes();
    b.edge_index[1][1] = b.num_nodes();
    CHECK_THROWS_WITH(model->forward(b, {}), Contains("edge_index values"));
  }
  SECTION("bad configurations") {
    auto c = config();
    c.layers = 0;
    CHECK_THROWS_AS(make_polymer_mpnn(c), InputError);
    c = config();
    c.node_dim = 0;
    CHECK_THROWS_AS(make_polymer_mpnn(c), InputError);
    c = config();
    c.dropout = 1.0;
    CHECK_THROWS_AS(make_polymer_mpnn(c), InputError);
  }
}

TEST_CASE("polymer_mpnn: dropout is live in train mode only (MC dropout)", "[gnn][polymer_mpnn]") {
  torch::manual_seed(2);
  auto c = config();
  c.dropout = 0.3;
  auto model = make_polymer_mpnn(c);
  const auto batch = sozai::polymer_graphs({"*C(C*)c1ccccc1", "*C(C*)OC(=O)C"});
  model->train();
  const auto a = model->forward(batch, {}).mean, b = model->forward(batch, {}).mean;
  CHECK_FALSE(torch::equal(a, b));
  model->eval();
  const auto d = model->forward(batch, {}).mean, e = model->forward(batch, {}).mean;
  CHECK(torch::equal(d, e));
}

TEST_CASE("polymer_mpnn: the same seed gives the same initial model", "[gnn][polymer_mpnn]") {
  const auto batch = sozai::polymer_graphs({"*C(C*)c1ccccc1", "*C(C*)OC(=O)C"});
  auto output = [&](uint64_t seed) {
    torch::manual_seed(seed);
    auto model = make_polymer_mpnn(config());
    model->eval();
    return model->forward(batch, {});
  };
  const auto a = output(11), b = output(11), c = output(12);
  CHECK(torch::equal(a.mean, b.mean));
  CHECK(torch::equal(a.log_var, b.log_var));
  CHECK(torch::equal(a.embedding, b.embedding));
  CHECK_FALSE(torch::equal(a.mean, c.mean));
}

/// Three hand-made repeat units of a featurised polymer's layout - a chain
/// with a ring, a branch-free chain and a lone atom, each with its periodic
/// bond (a self-loop for the lone atom), random 0/1 atom and bond features -
/// for the CUDA parity test where RDKit is not built (a GPU node's build may
/// have none; the device code under test never sees where a graph came from).
GraphBatch hand_made_batch() {
  std::vector<MaterialGraph> graphs;
  for (const int64_t n : {1, 10, 6}) {
    std::vector<int64_t> src, dst;
    const auto bond = [&](int64_t a, int64_t b) {  // both directions at k, k^1
      src.insert(src.end(), {a, b});
      dst.insert(dst.end(), {b, a});
    };
    for (int64_t i = 1; i < n; ++i) bond(i - 1, i);
    if (n >= 6) bond(0, 5);  // a ring
    bond(n - 1, 0);          // the periodic bond
    MaterialGraph g;
    g.kind = "polymer";
    const auto e = static_cast<int64_t>(src.size());
    g.x = (torch::rand({n, static_cast<int64_t>(sozai::polymer_atom_feature_names().size())}) < 0.2)
              .to(torch::kFloat32);
    g.edge_attr = (torch::rand({e, static_cast<int64_t>(sozai::polymer_bond_feature_names().size())}) < 0.3)
                      .to(torch::kFloat32);
    g.edge_index = torch::stack({torch::tensor(src), torch::tensor(dst)});
    g.atomic_number = torch::full({n}, 6, torch::kInt64);
    g.periodic = torch::zeros({e}, torch::kBool);
    g.periodic[e - 2] = g.periodic[e - 1] = true;
    graphs.push_back(std::move(g));
  }
  return sozai::batch_graphs(graphs);
}

/// The CUDA parity test's graphs: featurised from SMILES where RDKit is built.
GraphBatch cuda_parity_batch() {
#ifdef SOZAI_WITH_RDKIT
  return sozai::polymer_graphs({"*C*", "*C(C*)OC(=O)c1ccccc1", "*C(C*)CC(C)C"});
#else
  return hand_made_batch();
#endif
}

TEST_CASE("polymer_mpnn: the hand-made graphs of the CUDA test are valid model input", "[gnn][polymer_mpnn]") {
  torch::manual_seed(4);
  auto model = make_polymer_mpnn(config(1));
  model->eval();
  const auto batch = hand_made_batch();
  REQUIRE(batch.num_graphs() == 3);
  const auto out = model->forward(batch, torch::randn({3, 1}));
  REQUIRE(out.mean.sizes() == torch::IntArrayRef{3});
  CHECK(torch::isfinite(out.mean).all().item<bool>());
  CHECK(torch::isfinite(out.log_var).all().item<bool>());
}

TEST_CASE("polymer_mpnn: CUDA matches the CPU with the same weights", "[gnn][polymer_mpnn][cuda]") {
  if (!torch::cuda::is_available()) SOZAI_SKIP("no CUDA device");
  for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const double tol = dtype == torch::kFloat64 ? 1e-9 : 1e-4;
    INFO("dtype " << dtype << ", tolerance " << tol);
    torch::manual_seed(9);
    auto model = make_polymer_mpnn(config(1));
    model->to(dtype);
    model->eval();
    auto batch = cuda_parity_batch();
    batch.node_weight = torch::rand({batch.num_nodes()}) + 0.5;
    const auto cond = torch::randn({3, 1}, dtype);
    const auto cpu = model->forward(batch, cond);
    (cpu.mean.sum() + cpu.log_var.sum()).backward();
    std::vector<torch::Tensor> cpu_grads;
    for (auto& p : model->parameters()) {
      cpu_grads.push_back(p.grad().clone());
      p.mutable_grad().reset();  // so the CUDA backward starts from no gradient
    }

    model->to(torch::kCUDA);
    const auto gpu_batch = sozai::to_device(batch, torch::kCUDA);
    const auto gpu = model->forward(gpu_batch, cond.to(torch::kCUDA));
    REQUIRE(gpu.mean.is_cuda());
    CHECK(max_abs_diff(gpu.mean.cpu(), cpu.mean) < tol);
    CHECK(max_abs_diff(gpu.log_var.cpu(), cpu.log_var) < tol);
    CHECK(max_abs_diff(gpu.embedding.cpu(), cpu.embedding) < tol);
    (gpu.mean.sum() + gpu.log_var.sum()).backward();
    const auto params = model->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      INFO("parameter " << i);
      CHECK(max_abs_diff(params[i].grad().cpu(), cpu_grads[i]) < tol * 10);
    }
  }
}

