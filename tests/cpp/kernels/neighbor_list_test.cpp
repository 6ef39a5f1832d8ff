// Neighbour lists against a brute-force O(N^2 . images) oracle written here
// on hand-made cells (cubic, tiny, skewed, slab, molecule, batches, atoms
// outside the cell), the output order and max_neighbors, float32/float64,
// CUDA parity and input checks.

#include "common/error.h"
#include "kernels/neighbor_list.h"

#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <array>
#include <cmath>
#include <map>
#include <sstream>
#include <tuple>
#include <vector>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

using namespace sozai;
using namespace sozai::kernels;

namespace {

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>;  // i, j, S
using EdgeMap = std::map<Key, double>;

/// Brute force: every pair of a structure, every image in a box wide enough
/// for any position (however far outside its cell), distance by the plain
/// formula |pos_j + S.L - pos_i|. Shares no code with the kernel.
EdgeMap oracle(const torch::Tensor& positions, const torch::Tensor& lattice, double cutoff,
               const torch::Tensor& ptr, std::array<bool, 3> pbc) {
  auto pos = positions.to(torch::kFloat64).contiguous();
  const int64_t n = pos.size(0);
  auto p = ptr.defined() ? ptr.contiguous() : torch::tensor({int64_t{0}, n});
  const int64_t batch = p.size(0) - 1;
  torch::Tensor lat;
  if (lattice.defined()) lat = lattice.to(torch::kFloat64).reshape({-1, 3, 3}).contiguous();
  EdgeMap out;
  auto pa = pos.accessor<double, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t a0 = p[b].item<int64_t>(), a1 = p[b + 1].item<int64_t>();
    if (a0 == a1) continue;
    // Images: |pos_j + S.L - pos_i| < cutoff needs |S_k| <= (cutoff + |pos_j - pos_i|) / h_k,
    // h_k the height of periodic vector k over the others (a ratio of Gram
    // determinants, so open axes and their vectors play no part).
    int64_t range[3] = {0, 0, 0};
    torch::Tensor L;
    if (lat.defined()) {
      L = lat[b];
      const double span = 2 * pos.slice(0, a0, a1).norm(2, 1).max().item<double>();
      std::vector<int64_t> per;
      for (int k = 0; k < 3; ++k)
        if (pbc[k]) per.push_back(k);
      auto gram_det = [&](const std::vector<int64_t>& rows) {
        if (rows.empty()) return 1.0;
        auto P = L.index_select(0, torch::tensor(rows, torch::kInt64));
        return torch::det(P.matmul(P.t())).item<double>();
      };
      for (int64_t k : per) {
        std::vector<int64_t> others;
        for (int64_t q : per)
          if (q != k) others.push_back(q);
        const double h = std::sqrt(gram_det(per) / gram_det(others));
        range[k] = static_cast<int64_t>(std::ceil((cutoff + span) / h)) + 1;
      }
    }
    auto Lc = L.defined() ? L.contiguous() : torch::zeros({3, 3}, torch::kFloat64);
    auto la = Lc.accessor<double, 2>();
    for (int64_t i = a0; i < a1; ++i) {
      for (int64_t j = a0; j < a1; ++j) {
        for (int64_t s0 = -range[0]; s0 <= range[0]; ++s0) {
          for (int64_t s1 = -range[1]; s1 <= range[1]; ++s1) {
            for (int64_t s2 = -range[2]; s2 <= range[2]; ++s2) {
              if (i == j && s0 == 0 && s1 == 0 && s2 == 0) continue;
              double d2 = 0;
              for (int c = 0; c < 3; ++c) {
                const double v = pa[j][c] - pa[i][c] + (s0 * la[0][c] + s1 * la[1][c] + s2 * la[2][c]);
                d2 += v * v;
              }
              const double d = std::sqrt(d2);
              if (d < cutoff) out[Key{i, j, s0, s1, s2}] = d;
            }
          }
        }
      }
    }
  }
  return out;
}

EdgeMap to_map(const NeighborList& nl) {
  EdgeMap out;
  auto ei = nl.edge_index.contiguous();
  auto im = nl.image.contiguous();
  auto d = nl.distance.to(torch::kFloat64).contiguous();
  for (int64_t e = 0; e < d.size(0); ++e) {
    Key k{ei[0][e].item<int64_t>(), ei[1][e].item<int64_t>(), im[e][0].item<int64_t>(), im[e][1].item<int64_t>(),
          im[e][2].item<int64_t>()};
    REQUIRE(out.count(k) == 0);  // no duplicate edges
    out[k] = d[e].item<double>();
  }
  return out;
}

std::string key_str(const Key& k) {
  std::ostringstream os;
  os << "(i=" << std::get<0>(k) << " j=" << std::get<1>(k) << " S=" << std::get<2>(k) << "," << std::get<3>(k)
     << "," << std::get<4>(k) << ")";
  return os.str();
}

/// Same edge set and distances. Edges within `band` of the cutoff may be
/// decided either way by rounding and are not required on either side.
void require_same(const EdgeMap& got, const EdgeMap& want, double cutoff, double dist_tol, double band = 1e-9) {
  int64_t missing = 0, extra = 0, off = 0;
  for (const auto& [k, d] : want) {
    auto it = got.find(k);
    if (it == got.end()) {
      if (d < cutoff - band) {
        if (missing++ < 5) UNSCOPED_INFO("missing " << key_str(k) << " d=" << d);
      }
    } else if (std::fabs(it->second - d) > dist_tol) {
      if (off++ < 5) UNSCOPED_INFO("distance " << key_str(k) << " got " << it->second << " want " << d);
    }
  }
  for (const auto& [k, d] : got) {
    if (!want.count(k) && d < cutoff - band) {
      if (extra++ < 5) UNSCOPED_INFO("extra " << key_str(k) << " d=" << d);
    }
    CHECK(d < cutoff);
  }
  INFO("edges got " << got.size() << " want " << want.size());
  CHECK(missing == 0);
  CHECK(extra == 0);
  CHECK(off == 0);
}

/// Sorted by centre, then distance, then j, then image. The order is that
/// of the float64 distances; float32 outputs can round two of them to one
/// value, so there only centre and distance are checked.
void require_order(const NeighborList& nl) {
  const bool exact = nl.distance.scalar_type() == torch::kFloat64;
  auto ei = nl.edge_index.contiguous();
  auto im = nl.image.contiguous();
  auto d = nl.distance.to(torch::kFloat64).contiguous();
  auto e_a = ei.accessor<int64_t, 2>();
  auto i_a = im.accessor<int64_t, 2>();
  auto d_a = d.accessor<double, 1>();
  int64_t bad = 0;
  for (int64_t e = 1; e < d.size(0); ++e) {
    auto prev = std::make_tuple(e_a[0][e - 1], d_a[e - 1], e_a[1][e - 1], i_a[e - 1][0], i_a[e - 1][1], i_a[e - 1][2]);
    auto cur = std::make_tuple(e_a[0][e], d_a[e], e_a[1][e], i_a[e][0], i_a[e][1], i_a[e][2]);
    const bool ok = exact ? prev < cur
                          : (e_a[0][e - 1] < e_a[0][e] || (e_a[0][e - 1] == e_a[0][e] && d_a[e - 1] <= d_a[e]));
    if (!ok) ++bad;
  }
  CHECK(bad == 0);
}

torch::Tensor random_positions(int64_t n, const torch::Tensor& lattice, double lo, double hi, int64_t seed) {
  torch::manual_seed(seed);
  auto frac = torch::rand({n, 3}, torch::kFloat64) * (hi - lo) + lo;
  return frac.matmul(lattice.to(torch::kFloat64));
}

torch::Tensor mat(std::initializer_list<double> v) {
  return torch::tensor(std::vector<double>(v), torch::kFloat64).reshape({3, 3});
}

/// Runs the kernel in `dtype` and compares with the oracle on the same
/// (rounded) values.
NeighborList check_case(torch::Tensor pos, torch::Tensor lat, double cutoff, torch::Tensor ptr,
                        std::array<bool, 3> pbc, torch::ScalarType dtype) {
  pos = pos.to(dtype);
  if (lat.defined()) lat = lat.to(dtype);
  auto got = neighbor_list(pos, lat, cutoff, ptr, pbc);
  CHECK(got.edge_index.scalar_type() == torch::kInt64);
  CHECK(got.image.scalar_type() == torch::kInt64);
  CHECK(got.distance.scalar_type() == dtype);
  CHECK(got.edge_index.size(0) == 2);
  CHECK(got.image.size(1) == 3);
  const double tol = dtype == torch::kFloat64 ? 1e-10 : 2e-6 * cutoff;
  require_same(to_map(got), oracle(pos, lat, cutoff, ptr, pbc), cutoff, tol);
  require_order(got);
  return got;
}

}  // namespace

TEST_CASE("neighbor_list matches brute force on hand-made cells", "[kernels][neighbor_list]") {
  const auto dtype = GENERATE(torch::kFloat64, torch::kFloat32);
  INFO("dtype=" << dtype);
  const std::array<bool, 3> all = {true, true, true};

  SECTION("cubic cell, several bins per axis") {
    auto lat = mat({10, 0, 0, 0, 10, 0, 0, 0, 10});
    check_case(random_positions(60, lat, 0, 1, 1), lat, 3.0, {}, all, dtype);
  }
  SECTION("cubic cell, cutoff larger than half the cell") {
    auto lat = mat({5, 0, 0, 0, 5, 0, 0, 0, 5});
    check_case(random_positions(8, lat, 0, 1, 2), lat, 4.2, {}, all, dtype);
  }
  SECTION("tiny cell, cutoff far beyond the cell size") {
    auto lat = mat({1.5, 0, 0, 0, 1.7, 0, 0, 0, 1.9});
    auto got = check_case(random_positions(2, lat, 0, 1, 3), lat, 6.0, {}, all, dtype);
    CHECK(got.distance.size(0) > 200);  // many images of the same two atoms
  }
  SECTION("strongly skewed triclinic cell") {
    // Angles far from 90 degrees: the heights are much shorter than the
    // vector lengths, which a search by vector length would get wrong.
    auto lat = mat({4.0, 0, 0, 3.8, 1.1, 0, 3.6, 0.9, 1.3});
    check_case(random_positions(6, lat, 0, 1, 4), lat, 4.5, {}, all, dtype);
  }
  SECTION("skewed triclinic cell with several bins") {
    auto lat = mat({12.0, 0, 0, -7.0, 9.0, 0, 5.0, -4.0, 10.0});
    check_case(random_positions(80, lat, 0, 1, 5), lat, 2.6, {}, all, dtype);
  }
  SECTION("atoms outside the cell") {
    auto lat = mat({4.0, 0.3, 0, 1.2, 3.9, 0, 0.4, -0.8, 4.4});
    check_case(random_positions(7, lat, -2.0, 3.0, 6), lat, 5.0, {}, all, dtype);
  }
  SECTION("slab: periodic in-plane, open along c") {
    auto lat = mat({5.0, 0, 0, 2.0, 4.5, 0, 0, 0, 20.0});
    auto pos = random_positions(12, lat, 0, 1, 7);
    auto got = check_case(pos, lat, 6.0, {}, {true, true, false}, dtype);
    CHECK(got.image.select(1, 2).abs().max().item<int64_t>() == 0);
  }
  SECTION("slab with a zero vector along the open axis") {
    auto lat = mat({5.0, 0, 0, 0, 4.0, 0, 0, 0, 0});
    auto pos = random_positions(10, mat({5.0, 0, 0, 0, 4.0, 0, 0, 0, 12.0}), 0, 1, 8);
    check_case(pos, lat, 5.5, {}, {true, true, false}, dtype);
  }
  SECTION("wire: periodic along a skewed a only") {
    auto lat = mat({3.0, 1.0, 0.5, 0, 9, 0, 0, 0, 9});
    check_case(random_positions(9, mat({3.0, 1.0, 0.5, 0, 9, 0, 0, 0, 9}), 0, 1, 9), lat, 4.0,
               {}, {true, false, false}, dtype);
  }
  SECTION("molecule: no lattice") {
    auto pos = random_positions(40, mat({12, 0, 0, 0, 9, 0, 0, 0, 7}), 0, 1, 10) - 3.0;
    auto got = check_case(pos, {}, 2.5, {}, all, dtype);
    CHECK(got.image.abs().max().item<int64_t>() == 0);
  }
  SECTION("batch of structures, one of them empty") {
    std::vector<torch::Tensor> lats = {mat({5, 0, 0, 0, 5, 0, 0, 0, 5}), mat({1.6, 0, 0, 0.8, 1.4, 0, 0, 0, 2.0}),
                                       mat({3, 0, 0, 0, 3, 0, 0, 0, 3}), mat({4.0, 0, 0, 3.8, 1.1, 0, 3.6, 0.9, 1.3}),
                                       mat({9, 0, 0, 0, 8, 0, 0, 0, 7})};
    const int64_t sizes[] = {6, 1, 0, 4, 30};
    std::vector<torch::Tensor> pos;
    std::vector<int64_t> ptr = {0};
    for (size_t b = 0; b < lats.size(); ++b) {
      pos.push_back(random_positions(sizes[b], lats[b], -0.5, 1.5, 20 + b));
      ptr.push_back(ptr.back() + sizes[b]);
    }
    auto p = torch::tensor(ptr, torch::kInt64);
    auto got = check_case(torch::cat(pos), torch::stack(lats), 3.5, p, all, dtype);
    // Never across structures.
    auto owner = torch::repeat_interleave(torch::tensor({6, 1, 0, 4, 30}, torch::kInt64));
    auto oi = owner.index_select(0, got.edge_index[0]), oj = owner.index_select(0, got.edge_index[1]);
    auto cross = (oi != oj).nonzero();
    if (cross.size(0) > 0) {
      const int64_t e = cross[0][0].item<int64_t>();
      UNSCOPED_INFO("first cross edge " << got.edge_index[0][e].item<int64_t>() << " -> "
                                        << got.edge_index[1][e].item<int64_t>());
    }
    CHECK(cross.size(0) == 0);
  }
}

TEST_CASE("neighbor_list on perfect lattices gives the textbook shells", "[kernels][neighbor_list]") {
  // A 12x12x12 supercell of simple cubic (1728 atoms, many bins): each atom
  // has 6 neighbours at a, and 6 + 12 within 1.5 a. Fractional positions
  // exactly on bin borders exercise the wrap and clamp.
  const double a = 2.5;
  const int m = 12;
  std::vector<double> xyz;
  for (int x = 0; x < m; ++x)
    for (int y = 0; y < m; ++y)
      for (int z = 0; z < m; ++z) {
        xyz.insert(xyz.end(), {a * x, a * y, a * z});
      }
  auto pos = torch::tensor(xyz, torch::kFloat64).reshape({-1, 3});
  auto lat = torch::eye(3, torch::kFloat64) * (a * m);
  auto first = neighbor_list(pos, lat, 1.1 * a);
  CHECK(first.distance.size(0) == 6 * pos.size(0));
  CHECK(torch::allclose(first.distance, torch::full({6 * pos.size(0)}, a, torch::kFloat64)));
  auto second = neighbor_list(pos, lat, 1.5 * a);
  CHECK(second.distance.size(0) == 18 * pos.size(0));
  // The primitive cell alone (cutoff > cell): same shells, as images of one atom.
  auto one = neighbor_list(torch::zeros({1, 3}, torch::kFloat64), torch::eye(3, torch::kFloat64) * a, 1.5 * a);
  CHECK(one.distance.size(0) == 18);
  CHECK(torch::all(one.edge_index == 0).item<bool>());
}

TEST_CASE("neighbor_list max_neighbors keeps the nearest, in order", "[kernels][neighbor_list]") {
  auto lat = mat({4.0, 0, 0, 3.8, 1.1, 0, 3.6, 0.9, 1.3});
  auto pos = random_positions(10, lat, -1, 2, 30);
  auto full = neighbor_list(pos, lat, 5.0);
  for (int64_t k : {0, 1, 7, 40, 100000}) {
    INFO("max_neighbors=" << k);
    auto cut = neighbor_list(pos, lat, 5.0, {}, {true, true, true}, k);
    require_order(cut);
    // Expected: the first k edges of each centre in the full (sorted) list.
    std::vector<int64_t> keep;
    auto centre = full.edge_index[0].contiguous();
    int64_t run = 0;
    for (int64_t e = 0; e < centre.size(0); ++e) {
      run = (e > 0 && centre[e].item<int64_t>() == centre[e - 1].item<int64_t>()) ? run + 1 : 0;
      if (run < k) keep.push_back(e);
    }
    auto idx = torch::tensor(keep, torch::kInt64);
    CHECK(torch::equal(cut.edge_index, full.edge_index.index_select(1, idx)));
    CHECK(torch::equal(cut.image, full.image.index_select(0, idx)));
    CHECK(torch::equal(cut.distance, full.distance.index_select(0, idx)));
  }
}

TEST_CASE("neighbor_list ties are ordered by neighbour then image", "[kernels][neighbor_list]") {
  // One atom in a cube: its 6 nearest images tie at distance a.
  auto got = neighbor_list(torch::zeros({1, 3}, torch::kFloat64), torch::eye(3, torch::kFloat64) * 3.0, 3.5);
  REQUIRE(got.distance.size(0) == 6);
  auto want = torch::tensor({-1, 0, 0, 0, -1, 0, 0, 0, -1, 0, 0, 1, 0, 1, 0, 1, 0, 0}, torch::kInt64).reshape({6, 3});
  CHECK(torch::equal(got.image, want));
}

TEST_CASE("neighbor_list empty inputs", "[kernels][neighbor_list]") {
  auto none = neighbor_list(torch::zeros({0, 3}, torch::kFloat32), torch::eye(3, torch::kFloat32), 3.0);
  CHECK(none.edge_index.sizes() == torch::IntArrayRef({2, 0}));
  CHECK(none.image.sizes() == torch::IntArrayRef({0, 3}));
  CHECK(none.distance.size(0) == 0);
  CHECK(none.distance.scalar_type() == torch::kFloat32);
  // Zero structures.
  auto zero = neighbor_list(torch::zeros({0, 3}), torch::zeros({0, 3, 3}), 3.0, torch::zeros({1}, torch::kInt64));
  CHECK(zero.distance.size(0) == 0);
  // Isolated atoms: no edges, not an error.
  auto far = neighbor_list(torch::tensor({0.0, 0.0, 0.0, 10.0, 0.0, 0.0}, torch::kFloat64).reshape({2, 3}), {}, 3.0);
  CHECK(far.distance.size(0) == 0);
}

TEST_CASE("neighbor_list rejects bad input with clear messages", "[kernels][neighbor_list]") {
  using test::message_of;
  auto pos = torch::rand({4, 3}, torch::kFloat64);
  auto lat = torch::eye(3, torch::kFloat64) * 4;
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(torch::rand({4, 2}, torch::kFloat64), lat, 3.0); }),
             Catch::Contains("[N, 3]") && Catch::Contains("[4, 2]"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(torch::ones({4, 3}, torch::kInt64), {}, 3.0); }),
             Catch::Contains("float32 or float64") && Catch::Contains("Long"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat.to(torch::kFloat32), 3.0); }),
             Catch::Contains("dtype of positions"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, torch::eye(4, torch::kFloat64), 3.0); }),
             Catch::Contains("[3, 3] or [B, 3, 3]"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat, -1.0); }), Catch::Contains("cutoff") &&
                                                                                 Catch::Contains("-1"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat, 0.0); }), Catch::Contains("> 0"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat, std::nan("")); }), Catch::Contains("finite"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat, 3.0, {}, {true, true, true}, -2); }),
             Catch::Contains("max_neighbors") && Catch::Contains("-2"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat, 3.0, torch::tensor({0, 2, 1, 4})); }),
             Catch::Contains("non-decreasing"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat, 3.0, torch::tensor({int64_t{0}, int64_t{3}})); }),
             Catch::Contains("N = 4") && Catch::Contains("ptr[1] = 3"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat, 3.0, torch::tensor({int64_t{1}, int64_t{4}})); }),
             Catch::Contains("start at 0"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat, 3.0, torch::tensor({0, 4}, torch::kInt32)); }),
             Catch::Contains("int64"));
  CHECK_THAT(message_of<InputError>([&] {
               neighbor_list(pos, torch::stack({lat, lat}), 3.0, torch::tensor({int64_t{0}, int64_t{4}}));
             }),
             Catch::Contains("2 cells") && Catch::Contains("1 structures"));
  auto flat = mat({4, 0, 0, 0, 4, 0, 4, 4, 0});  // c in the ab plane
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, flat, 3.0); }), Catch::Contains("singular"));
  // ... but fine when that axis is open (its vector is not used).
  CHECK_NOTHROW(neighbor_list(pos, flat, 3.0, {}, {true, true, false}));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, mat({4, 0, 0, 0, 0, 0, 0, 0, 4}), 3.0); }),
             Catch::Contains("vector 1") && Catch::Contains("zero"));
  auto bad = pos.clone();
  bad[2][1] = std::nan("");
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(bad, lat, 3.0); }), Catch::Contains("finite"));
  auto badlat = lat.clone();
  badlat[0][0] = INFINITY;
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, badlat, 3.0); }), Catch::Contains("non-finite"));
  CHECK_THAT(message_of<InputError>([&] { neighbor_list(pos, lat * 1e-4, 3.0); }),
             Catch::Contains("periodic images"));
}

TEST_CASE("CUDA neighbor_list matches the CPU reference", "[kernels][neighbor_list][cuda]") {
  if (!torch::cuda::is_available()) SOZAI_SKIP("no CUDA device");
  std::vector<torch::Tensor> lats = {mat({5, 0, 0, 0, 5, 0, 0, 0, 5}), mat({1.6, 0, 0, 0.8, 1.4, 0, 0, 0, 2.0}),
                                     mat({4.0, 0, 0, 3.8, 1.1, 0, 3.6, 0.9, 1.3}), mat({9, 0, 0, 0, 8, 0, 0, 0, 7})};
  const int64_t sizes[] = {6, 1, 0, 40};
  std::vector<torch::Tensor> pos;
  std::vector<int64_t> ptr = {0};
  for (size_t b = 0; b < lats.size(); ++b) {
    pos.push_back(random_positions(sizes[b], lats[b], -0.5, 1.5, 40 + b));
    ptr.push_back(ptr.back() + sizes[b]);
  }
  auto p = torch::tensor(ptr, torch::kInt64);
  auto all_pos = torch::cat(pos);
  auto all_lat = torch::stack(lats);
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    for (std::array<bool, 3> pbc : {std::array<bool, 3>{true, true, true}, std::array<bool, 3>{true, false, true}}) {
      for (int64_t k : {int64_t{-1}, int64_t{5}}) {
        INFO("dtype=" << dtype << " pbc=" << pbc[0] << pbc[1] << pbc[2] << " max_neighbors=" << k);
        auto x = all_pos.to(dtype);
        auto l = all_lat.to(dtype);
        auto cpu = neighbor_list(x, l, 4.0, p, pbc, k);
        auto gpu = neighbor_list(x.cuda(), l.cuda(), 4.0, p.cuda(), pbc, k);
        CHECK(gpu.distance.is_cuda());
        // Same decisions (shared pair_distance2, no fma contraction), so
        // the same edges in the same order.
        CHECK(torch::equal(gpu.edge_index.cpu(), cpu.edge_index));
        CHECK(torch::equal(gpu.image.cpu(), cpu.image));
        const double tol = dtype == torch::kFloat64 ? 1e-12 : 1e-6;
        CHECK(torch::allclose(gpu.distance.cpu(), cpu.distance, tol, tol));
      }
    }
    auto mol_cpu = neighbor_list(all_pos.to(dtype), {}, 2.0, p);
    auto mol_gpu = neighbor_list(all_pos.to(dtype).cuda(), {}, 2.0, p.cuda());
    CHECK(torch::equal(mol_gpu.edge_index.cpu(), mol_cpu.edge_index));
  }
}
