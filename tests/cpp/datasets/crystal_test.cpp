// CIF/POSCAR readers and crystal graphs on hand-made fixtures
// (tests/fixtures/structures): symmetry expansion with merging, the 1/3
// snapping, the lexical corners of CIF, POSCAR variants, errors that name
// the line, and graphs checked against hand-derivable geometry (simple
// cubic, rock salt) and against their own batch.
#include "common/error.h"
#include "datasets/crystal_graph.h"
#include "datasets/structure.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <catch2/catch.hpp>

#include "../test_util.h"

using sozai::InputError;
using sozai::test::message_of;

namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(SOZAI_TEST_FIXTURES) + "/structures/" + name);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, int> count_species(const sozai::Structure& s) {
  std::map<std::string, int> m;
  for (const auto& sp : s.species) ++m[sp];
  return m;
}

bool has_frac(const sozai::Structure& s, double x, double y, double z) {
  auto f = s.frac_coords.accessor<double, 2>();
  for (int64_t i = 0; i < s.num_sites(); ++i) {
    const double d[3] = {f[i][0] - x, f[i][1] - y, f[i][2] - z};
    bool same = true;
    for (double v : d) same = same && std::fabs(v - std::round(v)) < 1e-9;
    if (same) return true;
  }
  return false;
}

const char* kCubicCif =
    "data_Po\n_cell_length_a 3.0\n_cell_length_b 3.0\n_cell_length_c 3.0\n"
    "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
    "loop_\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nPo 0 0 0\n";

/// The cubic CIF with one line replaced (1-based).
std::string cubic_with_line(int line, const std::string& replacement) {
  std::stringstream in(kCubicCif);
  std::string out, l;
  for (int n = 1; std::getline(in, l); ++n) out += (n == line ? replacement : l) + "\n";
  return out;
}

}  // namespace

TEST_CASE("parse_cif: rock salt in Fm-3m expands 2 sites under 192 operators to 8", "[datasets][crystal]") {
  const auto s = sozai::parse_cif(read_fixture("NaCl_Fm-3m.cif"));
  REQUIRE(s.num_sites() == 8);
  CHECK(count_species(s) == std::map<std::string, int>{{"Cl", 4}, {"Na", 4}});
  CHECK(s.name == "NaCl");
  CHECK(torch::allclose(s.lattice, torch::eye(3, torch::kFloat64) * 5.64, 0, 1e-9));
  for (auto p : {std::array<double, 3>{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}, {0.5, 0.5, 0.5},
                 {0.5, 0, 0}, {0, 0.5, 0}, {0, 0, 0.5}}) {
    CHECK(has_frac(s, p[0], p[1], p[2]));
  }
  // Cartesian = frac . lattice, fractional coordinates wrapped into [0, 1).
  CHECK(torch::allclose(s.cart_coords, s.frac_coords.matmul(s.lattice)));
  CHECK(s.frac_coords.min().item<double>() >= 0.0);
  CHECK(s.frac_coords.max().item<double>() < 1.0);
}

TEST_CASE("parse_cif: 0.3333 / 0.6667 snap to thirds so wurtzite stays 4 sites", "[datasets][crystal]") {
  const auto s = sozai::parse_cif(read_fixture("ZnO_P6_3mc.cif"));
  REQUIRE(s.num_sites() == 4);
  CHECK(count_species(s) == std::map<std::string, int>{{"O", 2}, {"Zn", 2}});
  CHECK(has_frac(s, 1.0 / 3.0, 2.0 / 3.0, 0.0));
  CHECK(has_frac(s, 2.0 / 3.0, 1.0 / 3.0, 0.5));
  // Hexagonal cell in pymatgen's orientation: |a| = |b| = 3.25, gamma = 120.
  auto L = s.lattice;
  CHECK(L[0].norm().item<double>() == Approx(3.25));
  CHECK(L[1].norm().item<double>() == Approx(3.25));
  CHECK(L[2].norm().item<double>() == Approx(5.21));
  CHECK(L[0].dot(L[1]).item<double>() == Approx(-0.5 * 3.25 * 3.25));
  // The looser tolerance that pymatgen exposes too changes nothing here.
  sozai::CifOptions o;
  o.site_tolerance = 1e-3;
  CHECK(sozai::parse_cif(read_fixture("ZnO_P6_3mc.cif"), o).num_sites() == 4);
}

TEST_CASE("parse_cif: comments, quotes, text fields, oxidation states, partial occupancy", "[datasets][crystal]") {
  const auto text = read_fixture("messy.cif");
  const auto s = sozai::parse_cif(text);
  CHECK(s.name == "SrTiO3_La_doped");
  // Inversion maps every site onto itself: images merge, 6 rows stay 6.
  REQUIRE(s.num_sites() == 6);
  CHECK(s.species == std::vector<std::string>{"Sr", "La", "Ti", "O", "O", "O"});
  CHECK(s.labels == std::vector<std::string>{"Sr1", "La1", "Ti1", "O1", "O2", "O3"});
  CHECK(s.oxidation_state == std::vector<double>{2, 3, 4, -2, -2, -2});
  const auto occ = s.occupancy;
  CHECK(occ[0].item<double>() == Approx(0.9));
  CHECK(occ[1].item<double>() == Approx(0.1));
  CHECK(occ.slice(0, 2).eq(1.0).all().item<bool>());  // "1.0(0)" and "?" read as 1
  CHECK(s.atomic_number.equal(torch::tensor({38, 57, 22, 8, 8, 8}, torch::kInt64)));
  CHECK(s.lattice[2][2].item<double>() == Approx(3.905));

  // Block 1: species from labels ("Fe1", "O2"), face-centring operators in
  // four spellings.
  sozai::CifOptions o;
  o.block = 1;
  const auto f = sozai::parse_cif(text, o);
  CHECK(f.name == "FeO_rocksalt");
  CHECK(count_species(f) == std::map<std::string, int>{{"Fe", 4}, {"O", 4}});
  CHECK(has_frac(f, 0.5, 0.0, 0.5));
  CHECK(has_frac(f, 0.0, 0.0, 0.5));
  CHECK(std::isnan(f.oxidation_state[0]));  // a label index is not a charge
  o.block = 2;
  CHECK_THAT(message_of<InputError>([&] { sozai::parse_cif(text, o); }),
             Catch::Contains("data block 2") && Catch::Contains("2 data block"));
  // Auto-detection picks CIF.
  CHECK(sozai::parse_structure(text).num_sites() == 6);
}

TEST_CASE("parse_cif: errors name the field and the line", "[datasets][crystal]") {
  CHECK(sozai::parse_cif(kCubicCif).num_sites() == 1);
  auto msg = [](const std::string& text) { return message_of<InputError>([&] { sozai::parse_cif(text); }); };
  CHECK_THAT(msg(cubic_with_line(3, "_cell_length_b 3.0x(2)")),
             Catch::Contains("line 3") && Catch::Contains("_cell_length_b") && Catch::Contains("3.0x(2)"));
  CHECK_THAT(msg(cubic_with_line(6, "_cell_angle_beta_typo 90")),
             Catch::Contains("missing cell") && Catch::Contains("_cell_angle_beta"));
  CHECK_THAT(msg(cubic_with_line(13, "Xq 0 0 0")),
             Catch::Contains("line 13") && Catch::Contains("unknown element 'Xq'"));
  CHECK_THAT(msg(cubic_with_line(13, "Po 0 0.5.5 0")),
             Catch::Contains("line 13") && Catch::Contains("_atom_site_fract_y") && Catch::Contains("0.5.5"));
  CHECK_THAT(msg(cubic_with_line(11, "_atom_site_fract_yy")), Catch::Contains("missing coordinates"));
  CHECK_THAT(msg(cubic_with_line(13, "Po 0 0")), Catch::Contains("loop") && Catch::Contains("not a multiple"));
  // alpha = beta = gamma = 120: the three vectors are coplanar.
  std::string coplanar = kCubicCif;
  for (const char* a : {"alpha", "beta", "gamma"}) {
    const std::string from = std::string("_cell_angle_") + a + " 90";
    coplanar.replace(coplanar.find(from), from.size(), std::string("_cell_angle_") + a + " 120");
  }
  CHECK_THAT(msg(coplanar), Catch::Contains("singular cell") && Catch::Contains("line 5"));
  CHECK_THAT(msg(cubic_with_line(13, "Po 0 0 0 'open")),
             Catch::Contains("line 13") && Catch::Contains("not closed"));
  CHECK_THAT(msg(std::string(kCubicCif) + "_note\n;\nnever closed\n"), Catch::Contains("line 15"));
  CHECK_THAT(msg(std::string(kCubicCif) + "loop_\n_symmetry_equiv_pos_as_xyz\n'x, y, w'\n"),
             Catch::Contains("line 16") && Catch::Contains("x, y, w"));
  CHECK_THAT(msg("# nothing here\n"), Catch::Contains("no data block"));
  CHECK_THAT(message_of<sozai::UnsupportedError>(
                 [&] { sozai::parse_cif(std::string(kCubicCif) + "_symmetry_space_group_name_H-M 'F m -3 m'\n"); }),
             Catch::Contains("line 14") && Catch::Contains("F m -3 m"));
  // P1 by name without operators is fine.
  CHECK(sozai::parse_cif(std::string(kCubicCif) + "_symmetry_space_group_name_H-M 'P 1'\n").num_sites() == 1);
}

TEST_CASE("parse_poscar: VASP 5, VASP 4 from the comment, volume scale, Cartesian", "[datasets][crystal]") {
  const auto si = sozai::parse_structure(read_fixture("Si_vasp5.poscar"));
  CHECK(si.name == "Si diamond, VASP 5 format");
  CHECK(si.species == std::vector<std::string>{"Si", "Si"});
  CHECK(si.lattice[0][1].item<double>() == Approx(5.43 * 0.5));
  CHECK(si.cart_coords[1][0].item<double>() == Approx(5.43 * 0.25));
  CHECK(si.occupancy.eq(1.0).all().item<bool>());

  const auto gaas = sozai::parse_poscar(read_fixture("GaAs_vasp4_cartesian.poscar"));
  CHECK(gaas.species == std::vector<std::string>{"Ga", "As"});
  CHECK(std::fabs(torch::det(gaas.lattice).item<double>()) == Approx(45.0));  // negative scale = volume
  CHECK(gaas.frac_coords[1][0].item<double>() == Approx(0.25));
  CHECK(gaas.frac_coords[1][2].item<double>() == Approx(0.25));
}

TEST_CASE("parse_poscar: errors name the line", "[datasets][crystal]") {
  const std::string good = read_fixture("Si_vasp5.poscar");
  auto msg = [](const std::string& text) { return message_of<InputError>([&] { sozai::parse_poscar(text); }); };
  auto with_line = [&](int line, const std::string& r) {
    std::stringstream in(good);
    std::string out, l;
    for (int n = 1; std::getline(in, l); ++n) out += (n == line ? r : l) + "\n";
    return out;
  };
  CHECK_THAT(msg(with_line(4, "  0.5 0.0 O.5")), Catch::Contains("line 4") && Catch::Contains("O.5"));
  CHECK_THAT(msg(with_line(2, "abc")), Catch::Contains("line 2") && Catch::Contains("scale"));
  CHECK_THAT(msg(with_line(6, "Qq")), Catch::Contains("line 6") && Catch::Contains("unknown element 'Qq'"));
  CHECK_THAT(msg(with_line(5, "  0.0 0.5 0.5")), Catch::Contains("singular lattice") && Catch::Contains("lines 3-5"));
  CHECK_THAT(msg(with_line(8, "Fractional?")), Catch::Contains("line 8") && Catch::Contains("Direct"));
  CHECK_THAT(msg(good.substr(0, good.rfind("0.25 0.25"))), Catch::Contains("atom coordinates"));
  // VASP 4 without species anywhere: the comment line does not name them.
  CHECK_THAT(msg("just a comment\n1.0\n1 0 0\n0 1 0\n0 0 1\n2\nDirect\n0 0 0\n0.5 0.5 0.5\n"),
             Catch::Contains("line 8") && Catch::Contains("VASP 4"));
  // ... but a symbol after each atom's coordinates (pymatgen's convention) names them.
  const auto tagged = sozai::parse_poscar("just a comment\n1.0\n3 0 0\n0 3 0\n0 0 3\n1 1\nSelective\nDirect\n"
                                          "0 0 0 T T T Cs\n0.5 0.5 0.5 F F F Cl\n");
  CHECK(tagged.species == std::vector<std::string>{"Cs", "Cl"});
}

TEST_CASE("crystal_graph: simple cubic neighbours, features, orientation", "[datasets][crystal]") {
  const auto s = sozai::parse_cif(kCubicCif);
  sozai::CrystalGraphConfig cfg;
  cfg.cutoff = 3.5;
  cfg.max_neighbors = -1;
  const auto g = sozai::crystal_graph(s, cfg);
  g.validate();
  CHECK(g.kind == "crystal");
  // One atom, its six images at 3.0 Å; 4.24 Å (face diagonal) is beyond 3.5.
  REQUIRE(g.num_edges() == 6);
  CHECK(g.distance.sub(3.0).abs().max().item<float>() < 1e-6);
  CHECK(g.image.abs().sum(1).eq(1).all().item<bool>());
  CHECK(g.image.sum(0).eq(0).all().item<bool>());
  CHECK(g.x.sizes() == torch::IntArrayRef({1, 100}));
  CHECK(g.x[0][83].item<float>() == 1.0f);  // Po, Z = 84
  CHECK(g.x.sum().item<float>() == 1.0f);
  CHECK(g.node_weight.eq(1.0).all().item<bool>());
  // Gaussian expansion: peak at the centre nearest 3.0 Å (spacing 3.5/39 -> k = 33 at 2.962).
  REQUIRE(g.edge_attr.sizes() == torch::IntArrayRef({6, 40}));
  CHECK(g.edge_attr[0].argmax().item<int64_t>() == 33);
  const double sigma = 3.5 / 39.0, mu = 33 * sigma;
  CHECK(g.edge_attr[0][33].item<float>() == Approx(std::exp(-(3.0 - mu) * (3.0 - mu) / (sigma * sigma))));
  CHECK(g.lattice.equal(s.lattice));
  cfg.max_neighbors = 4;
  CHECK(sozai::crystal_graph(s, cfg).num_edges() == 4);
  cfg.max_neighbors = -2;
  CHECK_THAT(message_of<InputError>([&] { sozai::crystal_graph(s, cfg); }), Catch::Contains("max_neighbors"));
  cfg.max_neighbors = 12;
  cfg.max_z = 50;
  CHECK_THAT(message_of<InputError>([&] { sozai::crystal_graph(s, cfg); }),
             Catch::Contains("site 0") && Catch::Contains("atomic number 84"));
}

TEST_CASE("crystal_graph: rock salt keeps the 12 nearest per centre, centre is the target", "[datasets][crystal]") {
  const auto s = sozai::parse_cif(read_fixture("NaCl_Fm-3m.cif"));
  const auto g = sozai::crystal_graph(s);  // 8 Å, 12 neighbours
  g.validate();
  REQUIRE(g.num_edges() == 8 * 12);
  const auto centre = g.edge_index[1];
  for (int64_t i = 0; i < 8; ++i) {
    const auto mine = centre.eq(i);
    CHECK(mine.sum().item<int64_t>() == 12);
    const auto d = g.distance.index({mine});
    // 6 unlike neighbours at a/2, then 6 of the 12 like ones at a/sqrt(2).
    CHECK(d.slice(0, 0, 6).sub(2.82).abs().max().item<float>() < 1e-5);
    CHECK(d.slice(0, 6).sub(5.64 / std::sqrt(2.0)).abs().max().item<float>() < 1e-5);
    CHECK(std::is_sorted(d.data_ptr<float>(), d.data_ptr<float>() + d.numel()));
    const auto nb = g.edge_index[0].index({mine});
    const auto zc = s.atomic_number[i].item<int64_t>();
    CHECK(s.atomic_number.index({nb.slice(0, 0, 6)}).ne(zc).all().item<bool>());
  }
  // graph.h: distance = |pos[target] + image . L - pos[source]|.
  const auto pos = g.positions;
  const auto vec = pos.index({g.edge_index[1]}) + g.image.to(torch::kFloat64).matmul(g.lattice) -
                   pos.index({g.edge_index[0]});
  CHECK(torch::allclose(vec.norm(2, 1).to(torch::kFloat32), g.distance, 1e-6, 1e-5));
}

TEST_CASE("crystal_graphs: one batched call equals the single graphs", "[datasets][crystal]") {
  const std::vector<std::string> texts = {read_fixture("NaCl_Fm-3m.cif"), read_fixture("ZnO_P6_3mc.cif"),
                                          read_fixture("perov_5_val_row0.cif"), read_fixture("Si_vasp5.poscar"),
                                          read_fixture("messy.cif")};
  sozai::CrystalGraphConfig cfg;
  cfg.cutoff = 6.0;
  cfg.max_neighbors = GENERATE(as<int64_t>{}, -1, 12);
  const auto b = sozai::crystal_graphs(texts, cfg);
  REQUIRE(b.num_graphs() == 5);
  CHECK(b.kind == "crystal");
  std::vector<sozai::MaterialGraph> singles;
  for (const auto& t : texts) singles.push_back(sozai::crystal_graph(t, cfg));
  const auto ref = sozai::batch_graphs(singles);
  CHECK(b.ptr.equal(ref.ptr));
  CHECK(b.edge_ptr.equal(ref.edge_ptr));
  CHECK(b.batch.equal(ref.batch));
  CHECK(b.edge_index.equal(ref.edge_index));
  CHECK(b.image.equal(ref.image));
  CHECK(b.distance.equal(ref.distance));
  CHECK(b.edge_attr.equal(ref.edge_attr));
  CHECK(b.x.equal(ref.x));
  CHECK(b.node_weight.equal(ref.node_weight));
  // The messy CIF's partial occupancies become node weights.
  CHECK(b.graph(4).node_weight[0].item<float>() == Approx(0.9f));

  auto bad = texts;
  bad[3] = "Si\n1.0\n1 0 0\n0 1 0\n0 0 x\nSi\n1\nDirect\n0 0 0\n";
  CHECK_THAT(message_of<InputError>([&] { sozai::crystal_graphs(bad, cfg); }),
             Catch::Contains("structure 3") && Catch::Contains("line 5"));
  CHECK_THAT(message_of<InputError>([&] { sozai::crystal_graphs(std::vector<std::string>{}, cfg); }),
             Catch::Contains("no structures"));
}
