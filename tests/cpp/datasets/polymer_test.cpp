/// Tests of polymer/molecule graphs, Morgan fingerprints, blends and
/// composites on hand-made SMILES. The fingerprint values come from RDKit's
/// Python generator (GetMorganGenerator(radius=2, fpSize=2048)), computed
/// once and written down here; tests/python/test_polymer.py compares every
/// SMILES of Tg_Original.csv with RDKit directly.

#include "common/error.h"
#include "datasets/polymer.h"
#include "kernels/kernel_matrix.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

namespace {

using Catch::Matchers::Contains;
using sozai::test::message_of;

/// Index of a named column, so tests read as chemistry, not offsets.
int64_t col(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  REQUIRE(it != names.end());
  return it - names.begin();
}
int64_t atom_col(const std::string& name) { return col(sozai::polymer_atom_feature_names(), name); }
int64_t bond_col(const std::string& name) { return col(sozai::polymer_bond_feature_names(), name); }

std::vector<int64_t> row(const torch::Tensor& edge_index, int64_t r) {
  auto t = edge_index[r].contiguous();
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

std::vector<bool> as_bools(const torch::Tensor& t) {
  std::vector<bool> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t[i].item<bool>());
  return out;
}

bool rdkit_built() {
#ifdef SOZAI_WITH_RDKIT
  return true;
#else
  return false;
#endif
}

}  // namespace

TEST_CASE("polymer: without RDKit every entry point names the option", "[polymer]") {
  if (rdkit_built()) {
    WARN("built with RDKit; the UnsupportedError path is compiled out");
    return;
  }
  CHECK_THAT(message_of<sozai::UnsupportedError>([] { sozai::polymer_graph("*CC*"); }),
             Contains("SOZAI_WITH_RDKIT"));
  CHECK_THROWS_AS(sozai::morgan_fingerprint("*CC*"), sozai::UnsupportedError);
  CHECK_THROWS_AS(sozai::morgan_counts(std::vector<std::string>{"*CC*"}), sozai::UnsupportedError);
  CHECK_THROWS_AS(sozai::polymer_blend({"*CC*"}, {1.0}), sozai::UnsupportedError);
  CHECK_THROWS_AS(sozai::composite("*CC*", "SiO2", 0.1), sozai::UnsupportedError);
  CHECK_THROWS_AS(sozai::polymer_features({"*CC*"}), sozai::UnsupportedError);
}

TEST_CASE("polymer: feature names match the tensor widths", "[polymer]") {
  if (!rdkit_built()) return;
  const auto g = sozai::polymer_graph("*CC*");
  CHECK(g.x.size(1) == static_cast<int64_t>(sozai::polymer_atom_feature_names().size()));
  CHECK(g.edge_attr.size(1) == static_cast<int64_t>(sozai::polymer_bond_feature_names().size()));
  CHECK(sozai::polymer_bond_feature_names().back() == "periodic");
}

TEST_CASE("polymer: polyethylene *CC* is 2 atoms, 1 bond and the periodic bond", "[polymer]") {
  if (!rdkit_built()) return;
  const auto g = sozai::polymer_graph("*CC*");
  g.validate();
  CHECK(g.kind == "polymer");
  REQUIRE(g.num_nodes() == 2);
  REQUIRE(g.num_edges() == 4);
  CHECK(row(g.edge_index, 0) == std::vector<int64_t>{0, 1, 0, 1});
  CHECK(row(g.edge_index, 1) == std::vector<int64_t>{1, 0, 1, 0});
  CHECK(as_bools(g.periodic) == std::vector<bool>{false, false, true, true});
  CHECK(g.atomic_number.equal(torch::tensor({6, 6}, torch::kInt64)));
  for (int64_t i = 0; i < 2; ++i) {
    // Inside the chain each carbon has two carbon neighbours and two H.
    CHECK(g.x[i][atom_col("element=C")].item<float>() == 1);
    CHECK(g.x[i][atom_col("degree=2")].item<float>() == 1);
    CHECK(g.x[i][atom_col("total_hs=2")].item<float>() == 1);
    CHECK(g.x[i][atom_col("hybridization=SP3")].item<float>() == 1);
    CHECK(g.x[i][atom_col("aromatic")].item<float>() == 0);
    // One-hot groups: exactly 8 groups, one column set in each.
    CHECK(g.x[i].sum().item<float>() == 8 - 2);  // aromatic and in_ring are 0 here
  }
  CHECK(g.edge_attr.select(1, bond_col("periodic")).equal(torch::tensor({0.f, 0.f, 1.f, 1.f})));
  CHECK(g.edge_attr.select(1, bond_col("bond_type=single")).sum().item<float>() == 4);
}

TEST_CASE("polymer: [*], [*:1] and * markers give the same graph", "[polymer]") {
  if (!rdkit_built()) return;
  const auto a = sozai::polymer_graph("*CC(*)C");
  for (const std::string s : {"[*]CC([*])C", "[*:1]CC([*:2])C", "[1*]CC([2*])C"}) {
    INFO(s);
    const auto b = sozai::polymer_graph(s);
    CHECK(b.kind == "polymer");
    CHECK(a.x.equal(b.x));
    CHECK(a.edge_index.equal(b.edge_index));
    CHECK(a.edge_attr.equal(b.edge_attr));
    CHECK(a.periodic.equal(b.periodic));
  }
}

TEST_CASE("polymer: both markers on one atom give a doubled self-loop", "[polymer]") {
  if (!rdkit_built()) return;
  const auto g = sozai::polymer_graph("*C*");
  g.validate();
  REQUIRE(g.num_nodes() == 1);
  REQUIRE(g.num_edges() == 2);
  CHECK(row(g.edge_index, 0) == std::vector<int64_t>{0, 0});
  CHECK(row(g.edge_index, 1) == std::vector<int64_t>{0, 0});
  CHECK(as_bools(g.periodic) == std::vector<bool>{true, true});
  CHECK(g.x[0][atom_col("degree=2")].item<float>() == 1);

  // Poly(dimethylsilylene): Si keeps its two methyls and the self-loop.
  const auto si = sozai::polymer_graph("*[Si](C)(C)*");
  CHECK(si.num_nodes() == 3);
  CHECK(si.num_edges() == 2 * (2 + 1));
  CHECK(row(si.edge_index, 0).back() == 0);
  CHECK(si.x[0][atom_col("element=Si")].item<float>() == 1);
  CHECK(si.x[0][atom_col("degree=4")].item<float>() == 1);
}

TEST_CASE("polymer: polystyrene", "[polymer]") {
  if (!rdkit_built()) return;
  const auto g = sozai::polymer_graph("*CC(*)c1ccccc1");
  g.validate();
  // RDKit: 10 atoms (2 markers), 10 bonds (2 to markers).
  REQUIRE(g.num_nodes() == 8);
  REQUIRE(g.num_edges() == 2 * (10 - 2 + 1));
  // The periodic bond joins the CH2 (node 0) and the CH (node 1).
  const auto src = row(g.edge_index, 0), dst = row(g.edge_index, 1);
  CHECK(src[16] == 0);
  CHECK(dst[16] == 1);
  CHECK(src[17] == 1);
  CHECK(dst[17] == 0);
  CHECK(g.periodic.sum().item<int64_t>() == 2);
  CHECK(g.x.select(1, atom_col("aromatic")).sum().item<float>() == 6);
  CHECK(g.x.select(1, atom_col("in_ring")).sum().item<float>() == 6);
  CHECK(g.x[1][atom_col("degree=3")].item<float>() == 1);  // CH: chain, chain, ring
  CHECK(g.x[1][atom_col("total_hs=1")].item<float>() == 1);
  CHECK(g.edge_attr.select(1, bond_col("bond_type=aromatic")).sum().item<float>() == 12);
  CHECK(g.edge_attr.select(1, bond_col("conjugated")).sum().item<float>() == 12);
}

TEST_CASE("polymer: a SMILES without markers is a molecule", "[polymer]") {
  if (!rdkit_built()) return;
  const auto g = sozai::polymer_graph("CCO");
  g.validate();
  CHECK(g.kind == "molecule");
  CHECK(g.num_nodes() == 3);
  CHECK(g.num_edges() == 4);
  CHECK(g.periodic.sum().item<int64_t>() == 0);
  CHECK(g.x[2][atom_col("element=O")].item<float>() == 1);
  // Stereo and charges reach the features.
  const auto s = sozai::polymer_graph("C/C=C/C");
  CHECK(s.edge_attr.select(1, bond_col("stereo=E")).sum().item<float>() == 2);  // RDKit: STEREOE
  const auto ion = sozai::polymer_graph("C[N+](C)(C)C");
  CHECK(ion.x[1][atom_col("formal_charge=1")].item<float>() == 1);
}

TEST_CASE("polymer: bad SMILES name the SMILES and the reason", "[polymer]") {
  if (!rdkit_built()) return;
  using sozai::InputError;
  auto msg = [](const std::string& s) { return message_of<InputError>([&] { sozai::polymer_graph(s); }); };
  CHECK_THAT(msg("*CC"), Contains("'*CC'") && Contains("1 end markers"));
  CHECK_THAT(msg("*C(*)C*"), Contains("3 end markers"));
  CHECK_THAT(msg("C*CC*"), Contains("'C*CC*'") && Contains("bonded to 2 atoms"));
  CHECK_THAT(msg("**"), Contains("bonded to each other"));
  CHECK_THAT(msg("*CC(*"), Contains("'*CC(*'") && Contains("RDKit could not parse") && Contains("parenthes"));
  CHECK_THAT(msg("*CX*"), Contains("'*CX*'") && Contains("syntax error"));
  CHECK_THAT(msg("*C(C)(C)(C)(C)C*"), Contains("valence"));
  CHECK_THAT(msg(""), Contains("empty"));
  // In a list the error names the index.
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_graphs({"*CC*", "*CC*", "*CX*"}); }),
             Contains("SMILES #2") && Contains("'*CX*'") && Contains("syntax error"));
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_graphs({"*CC*", "CC"}); }),
             Contains("SMILES #1") && Contains("molecule"));
}

TEST_CASE("polymer: batched graphs equal batch_graphs of single graphs", "[polymer]") {
  if (!rdkit_built()) return;
  const std::vector<std::string> smiles{"*CC*", "*C*", "*CC(*)c1ccccc1", "*Oc1ccc(C(C)(C)c2ccc(OC(*)=O)cc2)cc1",
                                        "[*]C(F)(F)C([*])(F)F"};
  std::vector<sozai::MaterialGraph> singles;
  for (const auto& s : smiles) singles.push_back(sozai::polymer_graph(s));
  const auto want = sozai::batch_graphs(singles);
  const auto got = sozai::polymer_graphs(smiles);
  CHECK(got.kind == "polymer");
  CHECK(got.num_graphs() == 5);
  CHECK(got.x.equal(want.x));
  CHECK(got.edge_index.equal(want.edge_index));
  CHECK(got.edge_attr.equal(want.edge_attr));
  CHECK(got.periodic.equal(want.periodic));
  CHECK(got.atomic_number.equal(want.atomic_number));
  CHECK(got.ptr.equal(want.ptr));
  CHECK(got.edge_ptr.equal(want.edge_ptr));
  CHECK(got.batch.equal(want.batch));
  CHECK(!got.node_weight.defined());

  // One parse for graphs and fingerprints gives the same as the two calls.
  const auto both = sozai::polymer_features(smiles, 3, 1000);
  CHECK(both.graphs.x.equal(got.x));
  CHECK(both.graphs.edge_index.equal(got.edge_index));
  CHECK(both.graphs.edge_attr.equal(got.edge_attr));
  CHECK(both.graphs.periodic.equal(got.periodic));
  CHECK(both.graphs.ptr.equal(got.ptr));
  CHECK(both.fingerprints.equal(sozai::morgan_fingerprint(smiles, 3, 1000)));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::polymer_features({"*CC*", "*CC"}); }),
             Contains("polymer_features: SMILES #1") && Contains("1 end markers"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::polymer_features({"*CC*"}, 2, 0); }), Contains("n_bits"));
}

TEST_CASE("polymer: Morgan fingerprints are RDKit's, in pack_bits layout", "[polymer]") {
  if (!rdkit_built()) return;
  // RDKit 2022.09, GetMorganGenerator(radius=2, fpSize=2048), on the SMILES as given.
  const std::vector<int64_t> on{1,    80,   170,  226,  247,  389,  541,  969,  1088,
                                1199, 1365, 1380, 1581, 1610, 1750, 1873, 2023, 2035};
  const auto fp = sozai::morgan_fingerprint("*CC(*)c1ccccc1", 2, 2048);
  REQUIRE(fp.sizes() == torch::IntArrayRef{32});
  CHECK(fp.scalar_type() == torch::kInt64);
  auto bits = torch::zeros({1, 2048}, torch::kBool);
  for (int64_t k : on) bits[0][k] = true;
  CHECK(fp.equal(sozai::kernels::pack_bits(bits)[0]));

  const auto counts = sozai::morgan_counts("*CC(*)c1ccccc1", 2, 2048);
  CHECK(counts.scalar_type() == torch::kInt32);
  CHECK(counts.sum().item<int64_t>() == 28);  // RDKit: one count per atom environment
  CHECK(counts[1873].item<int>() == 5);
  CHECK(counts[1088].item<int>() == 3);
  CHECK(counts.gt(0).nonzero().flatten().equal(torch::tensor(on, torch::kInt64)));

  // Batches equal the single calls; tanimoto works on them directly.
  const std::vector<std::string> smiles{"*CC*", "*CC(*)c1ccccc1", "CCO", "*C*"};
  const auto batch = sozai::morgan_fingerprint(smiles, 3, 1000);
  REQUIRE(batch.sizes() == torch::IntArrayRef{4, 16});
  const auto cbatch = sozai::morgan_counts(smiles, 3, 1000);
  REQUIRE(cbatch.sizes() == torch::IntArrayRef{4, 1000});
  for (size_t i = 0; i < smiles.size(); ++i) {
    INFO(smiles[i]);
    CHECK(batch[i].equal(sozai::morgan_fingerprint(smiles[i], 3, 1000)));
    CHECK(cbatch[i].equal(sozai::morgan_counts(smiles[i], 3, 1000)));
    CHECK(batch[i].equal(sozai::kernels::pack_bits(cbatch[i].gt(0).unsqueeze(0))[0]));
  }
  const auto t = sozai::kernels::tanimoto(batch, batch);
  CHECK(t.diagonal().equal(torch::ones({4})));
  CHECK(t[0][1].item<float>() < 1);

  CHECK_THAT(message_of<sozai::InputError>([] { sozai::morgan_fingerprint("*CC*", -1, 2048); }), Contains("radius"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::morgan_counts("*CC*", 2, 0); }), Contains("n_bits"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::morgan_fingerprint(std::vector<std::string>{"CC", "C("}); }),
             Contains("SMILES #1"));
}

TEST_CASE("polymer: blends and copolymers", "[polymer]") {
  if (!rdkit_built()) return;
  const auto b = sozai::polymer_blend({"*CC*", "*CC(*)c1ccccc1"}, {70, 30});
  CHECK(b.graphs.kind == "polymer");
  CHECK(b.kinds == std::vector<std::string>{"polymer", "polymer"});
  REQUIRE(b.fractions.numel() == 2);
  CHECK(b.fractions[0].item<double>() == Approx(0.7));
  CHECK(b.fractions[1].item<double>() == Approx(0.3));
  REQUIRE(b.graphs.num_graphs() == 2);
  REQUIRE(b.graphs.node_weight.defined());
  CHECK(b.graphs.node_weight.slice(0, 0, 2).eq(0.7f).all().item<bool>());
  CHECK(b.graphs.node_weight.slice(0, 2, 10).eq(0.3f).all().item<bool>());
  CHECK(b.graphs.graph(1).num_nodes() == 8);

  // A polymer with a small-molecule plasticiser mixes kinds.
  const auto p = sozai::polymer_blend({"*CC(*)Cl", "CCCCCCCCOC(=O)c1ccccc1C(=O)OCCCCCCCC"}, {0.8, 0.2});
  CHECK(p.graphs.kind == "blend");
  CHECK(p.kinds == std::vector<std::string>{"polymer", "molecule"});

  const auto c = sozai::blend_fingerprint_counts({"*CC*", "*CC(*)C"}, {3, 1}, 2, 512);
  const auto want = 0.75 * sozai::morgan_counts("*CC*", 2, 512).to(torch::kFloat64) +
                    0.25 * sozai::morgan_counts("*CC(*)C", 2, 512).to(torch::kFloat64);
  CHECK(c.scalar_type() == torch::kFloat64);
  CHECK(torch::allclose(c, want));

  using sozai::InputError;
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend({"*CC*", "*CC(*)C"}, {0.5}); }),
             Contains("2 SMILES but 1 fractions"));
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend({"*CC*", "*CC(*)C"}, {0.5, -0.1}); }),
             Contains("fraction #1") && Contains("'*CC(*)C'"));
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend({"*CC*"}, {NAN}); }), Contains("finite"));
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend({"*CC*", "*C*"}, {0, 0}); }), Contains("sum to 0"));
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend({}, {}); }), Contains("no components"));
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend({"*CC*", "*C("}, {1, 1}); }), Contains("SMILES #1"));
}

TEST_CASE("polymer: composites validate the fraction, the matrix and the filler", "[polymer]") {
  if (!rdkit_built()) return;
  const auto c = sozai::composite("*CC(*)(C)C(=O)OC", "BaTiO3", 0.25);
  CHECK(c.matrix_kind == "polymer");
  CHECK(c.volume_fraction == 0.25);
  CHECK(c.filler.size() == 3);
  CHECK(c.filler.fraction_of(22) == Approx(0.2));
  CHECK(sozai::composite("*CC*", "SiO2", 0).volume_fraction == 0);
  CHECK(sozai::composite("*CC*", "SiO2", 1).volume_fraction == 1);

  using sozai::InputError;
  CHECK_THAT(message_of<InputError>([] { sozai::composite("*CC*", "SiO2", 1.5); }),
             Contains("volume_fraction") && Contains("1.5"));
  CHECK_THAT(message_of<InputError>([] { sozai::composite("*CC*", "SiO2", -0.1); }), Contains("volume_fraction"));
  CHECK_THAT(message_of<InputError>([] { sozai::composite("*CC*", "SiO2", NAN); }), Contains("volume_fraction"));
  CHECK_THAT(message_of<InputError>([] { sozai::composite("*CC(", "SiO2", 0.1); }),
             Contains("matrix_smiles") && Contains("'*CC('"));
  CHECK_THAT(message_of<InputError>([] { sozai::composite("*CC*", "Xx2O3", 0.1); }),
             Contains("filler_formula") && Contains("Xx2O3"));
  CHECK_THAT(message_of<InputError>([] { sozai::composite("*CC*", "", 0.1); }), Contains("filler_formula"));
}

TEST_CASE("polymer: blends as one graph each for weighted pooling", "[polymer]") {
  if (!rdkit_built()) return;
  // PE (2 atoms) 70 / PS (8 atoms) 30, and lone PVC (3 atoms).
  const auto b = sozai::polymer_blend_graphs({"*CC* 70 | *CC(*)c1ccccc1 30", "*CC(*)Cl"});
  REQUIRE(b.num_graphs() == 2);
  CHECK(b.kind == "polymer");
  CHECK(b.ptr[1].item<int64_t>() == 10);
  REQUIRE(b.node_weight.defined());
  CHECK(b.node_weight.slice(0, 0, 2).sub(0.35f).abs().max().item<float>() < 1e-7);
  CHECK(b.node_weight.slice(0, 2, 10).sub(0.3f / 8).abs().max().item<float>() < 1e-7);
  CHECK(b.node_weight.slice(0, 10, 13).sub(1.0f / 3).abs().max().item<float>() < 1e-7);
  // The blend's edges are those of its components, shifted; none joins them.
  const auto single = sozai::polymer_blend({"*CC*", "*CC(*)c1ccccc1"}, {0.7, 0.3});
  CHECK(torch::equal(b.edge_index.slice(1, 0, single.graphs.num_edges()), single.graphs.edge_index));
  CHECK(torch::equal(b.x.slice(0, 0, 10), single.graphs.x));

  using sozai::InputError;
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend_graphs({"*CC* | *CC(*)C 0.5"}); }),
             Contains("input #0") && Contains("no fraction"));
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend_graphs({"*CC*", "*CC* 0.5 | *CC(*)C x1"}); }),
             Contains("input #1") && Contains("'x1' is not a number"));
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend_graphs({"*CC* 0.5 | "}); }), Contains("empty component"));
  CHECK_THAT(message_of<InputError>([] { sozai::polymer_blend_graphs({"*CC* -1 | *CC(*)C 2"}); }),
             Contains("must be finite and >= 0"));
}
