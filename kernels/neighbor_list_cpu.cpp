// CPU reference of the neighbour list: cell lists in fractional
// coordinates, linear in the number of atoms for a fixed density.
//
// Per structure, atoms are wrapped into the cell along periodic axes and
// binned on a grid whose bins are at least one cutoff high (perpendicular
// height, so skew does not matter), or as close as the cell allows. A
// centre then looks at the bins within `reach` = ceil(cutoff / bin height)
// on each side; along a periodic axis the bin index wraps and the wrap count
// is the lattice shift, so a cell smaller than the cutoff (reach > bins)
// yields several images of the same atom, as it must.
//
// A structure whose grid is a single bin (every periodic height below about
// one cutoff: the common small crystal) takes the pair path instead: for each
// atom pair, the image range along axes 0 and 1 from the heights, and along
// axis 2 the exact interval where the image lies inside the cutoff sphere
// (a quadratic in the shift). Candidates are then almost all hits, where a
// box of bins would test ~5 times more. Its cost is quadratic in the atoms of
// one cell, which is bounded by density times a volume below cutoff^3.
#include "common/error.h"
#include "kernels/neighbor_list.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace sozai {
namespace kernels {

namespace {

/// Per-structure binning.
struct Grid {
  double lo[3];      ///< fractional origin of bin 0 (0 along periodic axes)
  double scale[3];   ///< bins per fractional unit
  int64_t nbins[3];  ///< bins per axis
  int64_t reach[3];  ///< neighbour bins searched on each side
  double h[3];       ///< perpendicular heights of the (effective) cell
  int64_t first;     ///< index of this structure's first bin in cell_start
  bool single;       ///< one bin in all: use the pair path
};

/// A neighbour of the current centre.
struct Hit {
  double d;
  int64_t j;
  int64_t s[3];
};

/// Output order within a centre: distance, then j, then image.
/// A functor, not a function pointer, so std::sort inlines it.
struct HitLess {
  bool operator()(const Hit& a, const Hit& b) const {
    if (a.d != b.d) return a.d < b.d;
    if (a.j != b.j) return a.j < b.j;
    if (a.s[0] != b.s[0]) return a.s[0] < b.s[0];
    if (a.s[1] != b.s[1]) return a.s[1] < b.s[1];
    return a.s[2] < b.s[2];
  }
};

/// Sort key of a hit: its distance and its place in the hit list.
struct Key {
  double d;
  int64_t idx;
};

/// Edges of one contiguous range of centres, in output order: the kept
/// hits of every centre back to back, and how many each centre kept.
/// Aligned to a cache line: threads append to neighbouring chunks.
struct alignas(64) Chunk {
  std::vector<Hit> hits;
  std::vector<int64_t> kept;
};

/// Bin count per axis so that the grid holds at most max_cells bins: the
/// largest counts shrink first, keeping bins as cubic as the cell allows.
void cap_cells(int64_t* nb, int64_t max_cells) {
  while (nb[0] * nb[1] * nb[2] > max_cells) {
    int k = 0;
    for (int c = 1; c < 3; ++c) {
      if (nb[c] > nb[k]) k = c;
    }
    nb[k] = std::max<int64_t>(1, nb[k] / 2);
  }
}

/// Phase 1's output: every atom wrapped into its cell and binned.
struct Binning {
  std::vector<Grid> grids;      ///< per structure
  std::vector<double> wpos;     ///< [3n] positions wrapped into the cell
  std::vector<int64_t> wrap;    ///< [3n] pos = wpos + wrap . L
  std::vector<int64_t> bin3;    ///< [3n] bin coordinates
  std::vector<int64_t> cell;    ///< [n] bin index within its structure
  std::vector<int64_t> owner;   ///< [n] structure of each atom
  std::vector<double> wfrac;    ///< [3n] wrapped fractional coordinates
  int64_t grain = 1;            ///< structures per parallel task
};

/// Phase 2's output: each structure's atoms sorted by bin.
struct CellLists {
  std::vector<int64_t> start;       ///< per structure, nbins + 1 offsets into atoms (from Grid::first)
  std::vector<int64_t> atoms;       ///< atom indices, bin by bin
  std::vector<double> binned_wpos;  ///< [3n] wrapped positions in that order
};

/// The inputs every phase reads.
struct Inputs {
  int64_t n, batch;
  const double* pos;
  const double* lat;
  const int64_t* p;
  double cutoff;
  std::array<bool, 3> periodic;
};

/// 1. Per structure: wrap the atoms into the cell, choose the grid (bins at
/// least one cutoff high, at most 2 per atom) and bin every atom.
Binning bin_structures(const Inputs& in) {
  const int64_t n = in.n, batch = in.batch;
  const double* pos = in.pos;
  const double* lat = in.lat;
  const int64_t* p = in.p;
  const double cutoff = in.cutoff;
  const auto& periodic = in.periodic;
  Binning B;
  B.grids.resize(batch);
  B.wpos.resize(3 * n);
  B.wrap.resize(3 * n);
  B.bin3.resize(3 * n);
  B.cell.resize(n);
  B.owner.resize(n);
  B.wfrac.resize(3 * n);
  auto& grids = B.grids;
  auto& wpos = B.wpos;
  auto& wrap = B.wrap;
  auto& bin3 = B.bin3;
  auto& cell = B.cell;
  auto& owner = B.owner;
  auto& wfrac = B.wfrac;
  // Structures per task: a few hundred atoms' worth, so that batches of tiny
  // cells do not pay one task per structure.
  B.grain = std::max<int64_t>(1, 256 * batch / std::max<int64_t>(1, n));
  at::parallel_for(0, batch, B.grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const double* L = lat + 9 * b;
      double inv[9], h[3];
      SOZAI_ASSERT(nl::inverse3(L, inv));
      nl::perpendicular_heights(L, h);
      Grid& g = grids[b];
      double flo[3] = {0, 0, 0}, fhi[3] = {0, 0, 0};
      for (int k = 0; k < 3; ++k) {
        flo[k] = std::numeric_limits<double>::infinity();
        fhi[k] = -std::numeric_limits<double>::infinity();
      }
      for (int64_t a = p[b]; a < p[b + 1]; ++a) {
        double* f = wfrac.data() + 3 * a;
        nl::to_fractional(pos + 3 * a, inv, f);
        for (int k = 0; k < 3; ++k) {
          int64_t w = 0;
          if (periodic[k]) {
            w = static_cast<int64_t>(std::floor(f[k]));
            f[k] -= static_cast<double>(w);  // in [0, 1]; 1 only by rounding, clamped below
          } else {
            flo[k] = std::min(flo[k], f[k]);
            fhi[k] = std::max(fhi[k], f[k]);
          }
          wrap[3 * a + k] = w;
        }
        const double fw[3] = {static_cast<double>(wrap[3 * a]), static_cast<double>(wrap[3 * a + 1]),
                              static_cast<double>(wrap[3 * a + 2])};
        double shift[3];
        nl::to_cartesian(fw, L, shift);
        for (int c = 0; c < 3; ++c) wpos[3 * a + c] = pos[3 * a + c] - shift[c];
      }
      const int64_t natoms = p[b + 1] - p[b];
      for (int k = 0; k < 3; ++k) {
        double extent = 1.0;  // fractional length covered by the grid
        if (periodic[k]) {
          g.lo[k] = 0.0;
        } else {
          g.lo[k] = natoms > 0 ? flo[k] : 0.0;
          extent = natoms > 0 ? fhi[k] - flo[k] : 0.0;
        }
        // Bins at least one cutoff high: reach 1 whenever the cell allows.
        const double fit = std::floor(extent * h[k] / cutoff);
        g.nbins[k] = std::max<int64_t>(1, static_cast<int64_t>(std::min(fit, 1e6)));
      }
      // More bins than atoms only costs empty loops and memory.
      cap_cells(g.nbins, std::max<int64_t>(1, 2 * natoms));
      for (int k = 0; k < 3; ++k) {
        const double extent = periodic[k] ? 1.0 : (natoms > 0 ? fhi[k] - flo[k] : 0.0);
        if (periodic[k]) {
          g.scale[k] = static_cast<double>(g.nbins[k]);
        } else {
          g.scale[k] = g.nbins[k] > 1 ? static_cast<double>(g.nbins[k]) / extent : 0.0;
        }
        // cutoff in bins: cutoff / h fractional units times bins per unit.
        const double reach = cutoff / h[k] * g.scale[k] * (1.0 + nl::kScreenSlack);
        g.reach[k] = (!periodic[k] && g.nbins[k] == 1) ? 0 : static_cast<int64_t>(std::ceil(reach));
      }
      for (int k = 0; k < 3; ++k) g.h[k] = h[k];
      g.single = g.nbins[0] * g.nbins[1] * g.nbins[2] == 1;
      for (int64_t a = p[b]; a < p[b + 1]; ++a) {
        const double* f = wfrac.data() + 3 * a;
        for (int k = 0; k < 3; ++k) {
          const auto q = static_cast<int64_t>(std::floor((f[k] - g.lo[k]) * g.scale[k]));
          bin3[3 * a + k] = std::min(std::max<int64_t>(q, 0), g.nbins[k] - 1);
        }
        cell[a] = bin3[3 * a] + g.nbins[0] * (bin3[3 * a + 1] + g.nbins[1] * bin3[3 * a + 2]);
        owner[a] = b;
      }
    }
  });
  return B;
}

/// 2. Cell lists: a counting sort of each structure's atoms by bin.
CellLists build_cell_lists(const Inputs& in, Binning& B) {
  const int64_t n = in.n, batch = in.batch;
  const int64_t* p = in.p;
  auto& grids = B.grids;
  const auto& cell = B.cell;
  const auto& wpos = B.wpos;
  CellLists C;
  int64_t total = 0;
  for (int64_t b = 0; b < batch; ++b) {
    grids[b].first = total;
    total += grids[b].nbins[0] * grids[b].nbins[1] * grids[b].nbins[2] + 1;
  }
  C.start.assign(total, 0);
  C.atoms.resize(n);
  C.binned_wpos.resize(3 * n);
  auto& cell_start = C.start;
  auto& cell_atoms = C.atoms;
  auto& binned_wpos = C.binned_wpos;
  at::parallel_for(0, batch, B.grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const Grid& g = grids[b];
      const int64_t nc = g.nbins[0] * g.nbins[1] * g.nbins[2];
      int64_t* start = cell_start.data() + g.first;
      for (int64_t a = p[b]; a < p[b + 1]; ++a) ++start[cell[a] + 1];
      for (int64_t c = 0; c < nc; ++c) start[c + 1] += start[c];
      std::vector<int64_t> fill(start, start + nc);
      // Ascending atom order inside a bin: the hits are sorted later, but a
      // fixed visiting order keeps the run-to-run output bit-identical.
      for (int64_t a = p[b]; a < p[b + 1]; ++a) cell_atoms[p[b] + fill[cell[a]]++] = a;
      // Wrapped positions in bin order, so a bin's atoms are read from
      // contiguous memory in the search.
      for (int64_t e = p[b]; e < p[b + 1]; ++e) {
        for (int q = 0; q < 3; ++q) binned_wpos[3 * e + q] = wpos[3 * cell_atoms[e] + q];
      }
    }
  });
  return C;
}

/// 3. The search, in contiguous chunks of centres so the output order is
/// the centre order; several chunks per thread balance uneven structures.
/// Fills chunks[0, nchunks).
void search(const Inputs& in, const Binning& B, const CellLists& C, int64_t max_neighbors, std::vector<Chunk>& chunks,
            int64_t nchunks) {
  const int64_t n = in.n;
  const double* pos = in.pos;
  const double* lat = in.lat;
  const int64_t* p = in.p;
  const double cutoff = in.cutoff;
  const auto& periodic = in.periodic;
  const auto& grids = B.grids;
  const auto& wpos = B.wpos;
  const auto& wrap = B.wrap;
  const auto& bin3 = B.bin3;
  const auto& owner = B.owner;
  const auto& wfrac = B.wfrac;
  const auto& cell_start = C.start;
  const auto& cell_atoms = C.atoms;
  const auto& binned_wpos = C.binned_wpos;
  const double screen = cutoff * (1.0 + nl::kScreenSlack) + nl::kScreenSlack;
  const double screen2 = screen * screen;
  at::parallel_for(0, nchunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<Hit> hits;
    std::vector<Key> keys;
    std::vector<size_t> bucket;
    std::vector<int64_t> axis_cell[3], axis_shift[3];
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = n * c / nchunks, i1 = n * (c + 1) / nchunks;
      Chunk& out = chunks[c];
      out.kept.reserve(i1 - i0);
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t b = owner[i];
        const Grid& g = grids[b];
        const double* L = lat + 9 * b;
        const double* wi = wpos.data() + 3 * i;
        const int64_t* ni = wrap.data() + 3 * i;
        hits.clear();
        // A candidate (j, shift s in the wrapped frame) that passed a screen:
        // back to the frame of the positions as given, pos_j + S.L - pos_i
        // with S = s - wrap_j + wrap_i, and decided by the shared formula.
        auto consider = [&](int64_t j, int64_t s0, int64_t s1, int64_t s2) {
          const int64_t* nj = wrap.data() + 3 * j;
          Hit hit;
          hit.j = j;
          hit.s[0] = s0 - nj[0] + ni[0];
          hit.s[1] = s1 - nj[1] + ni[1];
          hit.s[2] = s2 - nj[2] + ni[2];
          if (j == i && hit.s[0] == 0 && hit.s[1] == 0 && hit.s[2] == 0) return;
          hit.d = std::sqrt(nl::pair_distance2(pos + 3 * i, pos + 3 * j, hit.s[0], hit.s[1], hit.s[2], L));
          if (hit.d < cutoff) hits.push_back(hit);
        };
        if (g.single) {
          // Pair path (see the top of the file).
          const double* a2 = L + 6;
          const double a22 = nl::dot3(a2, a2);
          for (int64_t j = p[b]; j < p[b + 1]; ++j) {
            const double* wj = wpos.data() + 3 * j;
            int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
            for (int k = 0; k < 2; ++k) {
              if (periodic[k]) nl::image_range(wfrac[3 * j + k] - wfrac[3 * i + k], cutoff / g.h[k], &lo[k], &hi[k]);
            }
            for (int64_t s0 = lo[0]; s0 <= hi[0]; ++s0) {
              for (int64_t s1 = lo[1]; s1 <= hi[1]; ++s1) {
                // w = wpos_j + s0 a0 + s1 a1 - wpos_i; then |w + t a2| < screen.
                double w[3];
                for (int q = 0; q < 3; ++q) w[q] = (wj[q] - wi[q]) + (s0 * L[q] + s1 * L[3 + q]);
                const double ww = nl::dot3(w, w);
                if (!periodic[2]) {
                  if (ww < screen2) consider(j, s0, s1, 0);
                  continue;
                }
                const double wa = nl::dot3(w, a2);
                const double disc = wa * wa - a22 * (ww - screen2);
                if (disc < 0) continue;
                const double root = std::sqrt(disc);
                const auto t0 = static_cast<int64_t>(std::ceil((-wa - root) / a22));
                const auto t1 = static_cast<int64_t>(std::floor((-wa + root) / a22));
                for (int64_t t = t0; t <= t1; ++t) consider(j, s0, s1, t);
              }
            }
          }
        } else {
          // Bins (and their lattice shifts) reachable along each axis.
          for (int k = 0; k < 3; ++k) {
            axis_cell[k].clear();
            axis_shift[k].clear();
            for (int64_t t = bin3[3 * i + k] - g.reach[k]; t <= bin3[3 * i + k] + g.reach[k]; ++t) {
              if (periodic[k]) {
                const int64_t sh = nl::floor_div(t, g.nbins[k]);
                axis_cell[k].push_back(t - sh * g.nbins[k]);
                axis_shift[k].push_back(sh);
              } else if (t >= 0 && t < g.nbins[k]) {
                axis_cell[k].push_back(t);
                axis_shift[k].push_back(0);
              }
            }
          }
          // Bin offsets are relative to the structure's first atom.
          const int64_t* start = cell_start.data() + g.first;
          const int64_t* members = cell_atoms.data() + p[b];
          for (size_t z = 0; z < axis_cell[2].size(); ++z) {
            for (size_t y = 0; y < axis_cell[1].size(); ++y) {
              for (size_t x = 0; x < axis_cell[0].size(); ++x) {
                const int64_t sx = axis_shift[0][x], sy = axis_shift[1][y], sz = axis_shift[2][z];
                const double fs[3] = {static_cast<double>(sx), static_cast<double>(sy), static_cast<double>(sz)};
                double off[3];  // shift of the bin minus the centre, in the wrapped frame
                nl::to_cartesian(fs, L, off);
                for (int q = 0; q < 3; ++q) off[q] -= wi[q];
                const int64_t bin =
                    axis_cell[0][x] + g.nbins[0] * (axis_cell[1][y] + g.nbins[1] * axis_cell[2][z]);
                const double* wb = binned_wpos.data() + 3 * p[b];
                for (int64_t e = start[bin]; e < start[bin + 1]; ++e) {
                  const double* wj = wb + 3 * e;
                  const double v0 = wj[0] + off[0], v1 = wj[1] + off[1], v2 = wj[2] + off[2];
                  if (v0 * v0 + v1 * v1 + v2 * v2 < screen2) consider(members[e], sx, sy, sz);
                }
              }
            }
          }
        }
        // Order the hits. The neighbours of a centre fill the cutoff sphere
        // roughly uniformly, so (d / cutoff)^3 is roughly uniform in [0, 1):
        // bucketing on it leaves a nearly sorted array that insertion sort
        // finishes in linear time (a comparison sort of ~100-1000 hits per
        // centre cost more than the whole search). Exact distance ties, as
        // in perfect crystals, are broken by (j, image).
        const size_t m = hits.size();
        keys.resize(m);
        bucket.assign(m + 1, 0);
        auto bucket_of = [&](double d) {
          const double x = d / cutoff;
          return std::min(m - 1, static_cast<size_t>(static_cast<double>(m) * x * x * x));
        };
        for (size_t h = 0; h < m; ++h) ++bucket[bucket_of(hits[h].d) + 1];
        for (size_t q = 0; q < m; ++q) bucket[q + 1] += bucket[q];
        for (size_t h = 0; h < m; ++h) keys[bucket[bucket_of(hits[h].d)]++] = {hits[h].d, static_cast<int64_t>(h)};
        auto key_less = [&](const Key& x, const Key& y) {
          if (x.d != y.d) return x.d < y.d;
          return HitLess()(hits[x.idx], hits[y.idx]);
        };
        for (size_t q = 1; q < m; ++q) {
          const Key k = keys[q];
          size_t r = q;
          for (; r > 0 && key_less(k, keys[r - 1]); --r) keys[r] = keys[r - 1];
          keys[r] = k;
        }
        const size_t keep =
            (max_neighbors >= 0 && m > static_cast<size_t>(max_neighbors)) ? static_cast<size_t>(max_neighbors) : m;
        if (i == i0) out.hits.reserve((keep + keep / 4) * (i1 - i0) + 16);  // guess from the first centre
        for (size_t k = 0; k < keep; ++k) out.hits.push_back(hits[keys[k].idx]);
        out.kept.push_back(static_cast<int64_t>(keep));
      }
    }
  });
}

/// 4. The chunks' hits, concatenated into the output tensors.
NeighborList concatenate(const std::vector<Chunk>& chunks, int64_t nchunks, int64_t n) {
  std::vector<int64_t> offset(nchunks + 1, 0);
  for (int64_t c = 0; c < nchunks; ++c) offset[c + 1] = offset[c] + static_cast<int64_t>(chunks[c].hits.size());
  const int64_t edges = offset[nchunks];
  auto edge_index = torch::empty({2, edges}, torch::kInt64);
  auto image = torch::empty({edges, 3}, torch::kInt64);
  auto distance = torch::empty({edges}, torch::kFloat64);
  int64_t* ei = edge_index.data_ptr<int64_t>();
  int64_t* im = image.data_ptr<int64_t>();
  double* di = distance.data_ptr<double>();
  at::parallel_for(0, nchunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const Chunk& ch = chunks[c];
      int64_t e = offset[c];
      int64_t centre = n * c / nchunks;
      size_t h = 0;
      for (int64_t count : ch.kept) {
        for (int64_t k = 0; k < count; ++k, ++h, ++e) {
          const Hit& hit = ch.hits[h];
          ei[e] = centre;
          ei[edges + e] = hit.j;
          im[3 * e] = hit.s[0];
          im[3 * e + 1] = hit.s[1];
          im[3 * e + 2] = hit.s[2];
          di[e] = hit.d;
        }
        ++centre;
      }
    }
  });
  return {edge_index, image, distance};
}

}  // namespace

NeighborList neighbor_list_cpu(const torch::Tensor& positions, const torch::Tensor& lattices, double cutoff,
                               const torch::Tensor& ptr, std::array<bool, 3> periodic, int64_t max_neighbors) {
  const Inputs in{positions.size(0), ptr.size(0) - 1, positions.data_ptr<double>(), lattices.data_ptr<double>(),
                  ptr.data_ptr<int64_t>(), cutoff, periodic};
  const int64_t n = in.n;
  auto binning = bin_structures(in);
  const auto cells = build_cell_lists(in, binning);
  const int64_t nchunks = std::min<int64_t>(n, std::max<int64_t>(1, at::get_num_threads() * 8));
  // Chunk buffers are kept by the calling thread between calls: filled by
  // worker threads, freshly allocated ones were returned to the system and
  // page-faulted in again on every call, which cost more than the search
  // (measured: 2 threads ran at half the speed of 1). Capped below.
  static thread_local std::vector<Chunk> pool;
  if (static_cast<int64_t>(pool.size()) < nchunks) pool.resize(nchunks);
  for (int64_t c = 0; c < nchunks; ++c) {
    pool[c].hits.clear();
    pool[c].kept.clear();
  }
  search(in, binning, cells, max_neighbors, pool, nchunks);
  auto out = concatenate(pool, nchunks, n);
  // Keep at most kPoolBytes of buffers for the next call.
  constexpr size_t kPoolBytes = size_t{256} << 20;
  size_t held = 0;
  for (auto& ch : pool) {
    held += ch.hits.capacity() * sizeof(Hit) + ch.kept.capacity() * sizeof(int64_t);
    if (held > kPoolBytes) {
      std::vector<Hit>().swap(ch.hits);
      std::vector<int64_t>().swap(ch.kept);
    }
  }
  return out;
}

}  // namespace kernels
}  // namespace sozai
