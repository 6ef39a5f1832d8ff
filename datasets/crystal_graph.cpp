/// Crystal graphs (see crystal_graph.h). Single graphs and batches go
/// through one builder so that a batch is exactly the concatenation of the
/// single graphs, with one neighbour-list call for the whole batch.

#include "common/error.h"
#include "datasets/crystal_graph.h"
#include "kernels/neighbor_list.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sozai {
namespace {

void check_config(const CrystalGraphConfig& c, const char* where) {
  SOZAI_CHECK(std::isfinite(c.cutoff) && c.cutoff > 0.0, where, ": cutoff must be finite and > 0 Å, got ", c.cutoff);
  SOZAI_CHECK(c.max_neighbors >= -1, where, ": max_neighbors must be >= 0, or -1 to keep every neighbour within ",
              "the cutoff, got ", c.max_neighbors);
  SOZAI_CHECK(c.n_gaussians >= 2, where, ": n_gaussians must be >= 2, got ", c.n_gaussians);
  SOZAI_CHECK(c.max_z >= 1 && c.max_z <= 118, where, ": max_z must lie in 1..118, got ", c.max_z);
}

/// The fields of a batch of crystal graphs (node offsets ptr, edge offsets
/// edge_ptr); a single graph is the batch of one.
struct Built {
  torch::Tensor x, edge_index, edge_attr, atomic_number, distance, image, node_weight;
  torch::Tensor ptr, edge_ptr, batch;
};

Built build(const std::vector<const Structure*>& structures, const CrystalGraphConfig& cfg, const char* where) {
  check_config(cfg, where);
  SOZAI_CHECK(!structures.empty(), where, ": no structures given");
  const int64_t B = static_cast<int64_t>(structures.size());
  std::vector<torch::Tensor> pos, lat, z, occ;
  pos.reserve(B);
  lat.reserve(B);
  z.reserve(B);
  occ.reserve(B);
  std::vector<int64_t> ptr(B + 1, 0);
  for (int64_t b = 0; b < B; ++b) {
    const Structure& s = *structures[b];
    const int64_t n = s.num_sites();
    SOZAI_CHECK(s.lattice.defined() && s.lattice.sizes() == torch::IntArrayRef({3, 3}), where, ": structure ", b,
                " has no [3, 3] lattice");
    SOZAI_CHECK(s.cart_coords.defined() && s.cart_coords.dim() == 2 && s.cart_coords.size(0) == n &&
                    s.cart_coords.size(1) == 3,
                where, ": structure ", b, " has cart_coords of shape ",
                s.cart_coords.defined() ? s.cart_coords.sizes() : torch::IntArrayRef{}, ", expected [", n, ", 3]");
    SOZAI_CHECK(s.atomic_number.defined() && s.atomic_number.numel() == n, where, ": structure ", b,
                " has ", s.atomic_number.defined() ? s.atomic_number.numel() : 0, " atomic numbers for ", n,
                " sites");
    pos.push_back(s.cart_coords.to(torch::kFloat64));
    lat.push_back(s.lattice.to(torch::kFloat64));
    z.push_back(s.atomic_number.to(torch::kInt64));
    occ.push_back(s.occupancy.defined() ? s.occupancy.to(torch::kFloat32)
                                        : torch::ones({n}, torch::kFloat32));
    SOZAI_CHECK(occ.back().numel() == n, where, ": structure ", b, " has ", occ.back().numel(),
                " occupancies for ", n, " sites");
    ptr[b + 1] = ptr[b] + n;
  }
  Built g;
  g.ptr = torch::tensor(ptr, torch::kInt64);
  g.atomic_number = torch::cat(z);
  g.node_weight = torch::cat(occ);
  const int64_t N = g.atomic_number.numel();
  {
    // Locate the first unrepresentable element so the message names it.
    const int64_t* zp = g.atomic_number.data_ptr<int64_t>();
    for (int64_t i = 0; i < N; ++i) {
      if (zp[i] >= 1 && zp[i] <= cfg.max_z) continue;
      const int64_t b = std::upper_bound(ptr.begin(), ptr.end(), i) - ptr.begin() - 1;
      SOZAI_CHECK(false, where, ": structure ", b, " site ", i - ptr[b], " has atomic number ", zp[i],
                  "; the one-hot node features cover 1..", cfg.max_z, " (CrystalGraphConfig::max_z)");
    }
  }
  g.batch = torch::repeat_interleave(torch::arange(B, torch::kInt64), g.ptr.slice(0, 1) - g.ptr.slice(0, 0, B));

  const auto nl = kernels::neighbor_list(torch::cat(pos), torch::stack(lat), cfg.cutoff, g.ptr, {true, true, true},
                                         cfg.max_neighbors);
  // Kernel: row 0 = centre, row 1 = neighbour, image of the neighbour.
  // Graph: messages flow row 0 -> row 1, so the centre becomes the target
  // and the image (of the target) flips sign. The kernel's order (by
  // centre, nearest first) is kept.
  g.edge_index = torch::stack({nl.edge_index[1], nl.edge_index[0]});
  g.image = nl.image.neg();
  g.distance = nl.distance.to(torch::kFloat32);
  g.edge_attr = gaussian_expansion(g.distance, cfg.cutoff, cfg.n_gaussians);

  g.x = torch::zeros({N, cfg.max_z}, torch::kFloat32);
  if (N > 0) g.x.scatter_(1, (g.atomic_number - 1).unsqueeze(1), 1.0);

  // Edges are grouped by centre and centres by structure, so each
  // structure's edges are one contiguous run.
  const auto per_graph = torch::bincount(g.batch.index_select(0, nl.edge_index[0]), {}, B);
  g.edge_ptr = torch::cat({torch::zeros({1}, torch::kInt64), per_graph.cumsum(0)});
  return g;
}

/// Runs f, prefixing a user error with which text of the batch caused it.
template <typename F>
auto with_index(const char* where, size_t i, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const UnsupportedError& e) {
    throw UnsupportedError(str(where, ": structure ", i, ": ", e.what()));
  } catch (const InputError& e) {
    throw InputError(str(where, ": structure ", i, ": ", e.what()));
  }
}

}  // namespace

torch::Tensor gaussian_expansion(const torch::Tensor& distance, double cutoff, int64_t n) {
  SOZAI_CHECK(distance.defined() && distance.dim() == 1, "gaussian_expansion: distance must be [E], got ",
              distance.defined() ? distance.sizes() : torch::IntArrayRef{});
  SOZAI_CHECK(std::isfinite(cutoff) && cutoff > 0.0, "gaussian_expansion: cutoff must be finite and > 0, got ",
              cutoff);
  SOZAI_CHECK(n >= 2, "gaussian_expansion: n must be >= 2, got ", n);
  const double h = cutoff / static_cast<double>(n - 1);  // spacing = width
  if (!distance.is_cpu()) {
    const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(distance.device());
    const auto mu = torch::linspace(0.0, cutoff, n, opts);
    const auto d = distance.to(torch::kFloat32).unsqueeze(1) - mu.unsqueeze(0);
    return torch::exp(d.square() * (-1.0 / (h * h)));
  }
  // CPU: with x = d / h, out[k] = exp(-(x - k)^2), and consecutive terms
  // differ by a factor that itself changes by exp(-2) per step. So three
  // exp() per edge instead of n, walking out from the nearest centre (where
  // the value is >= exp(-1/4)) so that nothing underflows before it should.
  // The recurrence stays within a few ulps of the direct formula over n
  // steps in double.
  const auto d = distance.to(torch::kFloat64).contiguous();
  const int64_t E = d.numel();
  auto out = torch::empty({E, n}, torch::kFloat32);
  const double* dp = d.data_ptr<double>();
  float* op = out.data_ptr<float>();
  const double step = std::exp(-2.0);
  for (int64_t e = 0; e < E; ++e) {
    float* o = op + e * n;
    const double x = dp[e] / h;
    if (!std::isfinite(x)) {
      std::fill(o, o + n, std::isnan(x) ? std::numeric_limits<float>::quiet_NaN() : 0.0f);
      continue;
    }
    const int64_t k0 = std::min<int64_t>(n - 1, std::max<int64_t>(0, std::llround(x)));
    const double u = x - static_cast<double>(k0);
    const double g0 = std::exp(-u * u);
    if (g0 == 0.0) {  // far beyond the last centre: all zero (and r would overflow)
      std::fill(o, o + n, 0.0f);
      continue;
    }
    o[k0] = static_cast<float>(g0);
    double g = g0, r = std::exp(2.0 * u - 1.0);
    for (int64_t k = k0 + 1; k < n; ++k, r *= step) o[k] = static_cast<float>(g *= r);
    g = g0;
    r = std::exp(-2.0 * u - 1.0);
    for (int64_t k = k0 - 1; k >= 0; --k, r *= step) o[k] = static_cast<float>(g *= r);
  }
  return out;
}

namespace {
/// The graphs build() made, as a batch.
GraphBatch as_batch(Built&& b) {
  GraphBatch out;
  out.kind = "crystal";
  out.x = std::move(b.x);
  out.edge_index = std::move(b.edge_index);
  out.edge_attr = std::move(b.edge_attr);
  out.atomic_number = std::move(b.atomic_number);
  out.distance = std::move(b.distance);
  out.image = std::move(b.image);
  out.node_weight = std::move(b.node_weight);
  out.ptr = std::move(b.ptr);
  out.edge_ptr = std::move(b.edge_ptr);
  out.batch = std::move(b.batch);
  return out;
}
}  // namespace

MaterialGraph crystal_graph(const Structure& structure, const CrystalGraphConfig& config) {
  MaterialGraph g = as_batch(build({&structure}, config, "crystal_graph")).graph(0);
  g.positions = structure.cart_coords.to(torch::kFloat64).clone();
  g.lattice = structure.lattice.to(torch::kFloat64).clone();
  return g;
}

MaterialGraph crystal_graph(const std::string& text, const CrystalGraphConfig& config) {
  check_config(config, "crystal_graph");
  return crystal_graph(parse_structure(text), config);
}

GraphBatch crystal_graphs(const std::vector<Structure>& structures, const CrystalGraphConfig& config) {
  std::vector<const Structure*> ptrs;
  ptrs.reserve(structures.size());
  for (const auto& s : structures) ptrs.push_back(&s);
  return as_batch(build(ptrs, config, "crystal_graphs"));
}

GraphBatch crystal_graphs(const std::vector<std::string>& texts, const CrystalGraphConfig& config) {
  check_config(config, "crystal_graphs");
  SOZAI_CHECK(!texts.empty(), "crystal_graphs: no structures given");
  std::vector<Structure> structures;
  structures.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    structures.push_back(with_index("crystal_graphs", i, [&] { return parse_structure(texts[i]); }));
  }
  return crystal_graphs(structures, config);
}

}  // namespace sozai
