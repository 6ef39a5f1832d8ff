// Public entry of the neighbour list: validates once, prepares the
// effective lattices, dispatches on the device of the positions.
#include "common/error.h"
#include "kernels/neighbor_list.h"

#include <cmath>
#include <limits>

namespace sozai {
namespace kernels {

namespace {

/// Most periodic images a single centre may have to look at: beyond this the
/// cell is so flat (or the cutoff so long) that the output would not fit.
constexpr double kMaxImages = 16777216.0;  // 2^24

NeighborList empty_result(const torch::Tensor& positions) {
  auto idx = torch::TensorOptions().dtype(torch::kInt64).device(positions.device());
  return {torch::empty({2, 0}, idx), torch::empty({0, 3}, idx), torch::empty({0}, positions.options())};
}

}  // namespace

NeighborList neighbor_list(const torch::Tensor& positions, const torch::Tensor& lattice, double cutoff,
                           const torch::Tensor& ptr, std::array<bool, 3> pbc, int64_t max_neighbors) {
  SOZAI_CHECK(positions.defined(), "neighbor_list: positions must be a defined [N, 3] tensor, got an undefined one");
  SOZAI_CHECK(positions.dim() == 2 && positions.size(1) == 3, "neighbor_list: positions must be [N, 3], got ",
              positions.sizes());
  SOZAI_CHECK(positions.scalar_type() == torch::kFloat64 || positions.scalar_type() == torch::kFloat32,
              "neighbor_list: positions must be float32 or float64, got ", positions.scalar_type());
  SOZAI_CHECK(std::isfinite(cutoff) && cutoff > 0.0, "neighbor_list: cutoff must be finite and > 0, got ", cutoff);
  SOZAI_CHECK(max_neighbors >= -1, "neighbor_list: max_neighbors must be >= 0, or -1 to keep all, got ",
              max_neighbors);
  const auto device = positions.device();
  SOZAI_CHECK_T(DeviceError, positions.is_cpu() || positions.is_cuda(), "neighbor_list: unsupported device ",
                device, "; expected cpu or cuda");
  const int64_t n = positions.size(0);

  // ---- structures (CSR offsets); small, checked on the host.
  torch::Tensor ptr_cpu;
  if (ptr.defined()) {
    SOZAI_CHECK(ptr.dim() == 1 && ptr.size(0) >= 1, "neighbor_list: ptr must be [B + 1] (B >= 0), got shape ",
                ptr.sizes());
    SOZAI_CHECK(ptr.scalar_type() == torch::kInt64, "neighbor_list: ptr must be int64, got ", ptr.scalar_type());
    SOZAI_CHECK_T(DeviceError, ptr.device() == device,
                  "neighbor_list: ptr must be on the device of positions (", device, "), got ", ptr.device());
    ptr_cpu = ptr.to(torch::kCPU).contiguous();
    const int64_t* p = ptr_cpu.data_ptr<int64_t>();
    const int64_t nb = ptr_cpu.size(0) - 1;
    SOZAI_CHECK(p[0] == 0, "neighbor_list: ptr must start at 0, got ptr[0] = ", p[0]);
    for (int64_t b = 0; b < nb; ++b) {
      SOZAI_CHECK(p[b + 1] >= p[b], "neighbor_list: ptr must be non-decreasing, got ptr[", b, "] = ", p[b],
                  " > ptr[", b + 1, "] = ", p[b + 1]);
    }
    SOZAI_CHECK(p[nb] == n, "neighbor_list: ptr must end at the number of atoms N = ", n, ", got ptr[", nb,
                "] = ", p[nb]);
  } else {
    ptr_cpu = torch::tensor({int64_t{0}, n}, torch::kInt64);
  }
  const int64_t batch = ptr_cpu.size(0) - 1;

  // ---- lattices.
  std::array<bool, 3> periodic = {false, false, false};
  torch::Tensor lat_cpu;
  if (lattice.defined()) {
    SOZAI_CHECK((lattice.dim() == 2 && lattice.size(0) == 3 && lattice.size(1) == 3) ||
                    (lattice.dim() == 3 && lattice.size(1) == 3 && lattice.size(2) == 3),
                "neighbor_list: lattice must be [3, 3] or [B, 3, 3], got ", lattice.sizes());
    SOZAI_CHECK(lattice.scalar_type() == positions.scalar_type(),
                "neighbor_list: lattice must have the dtype of positions (", positions.scalar_type(), "), got ",
                lattice.scalar_type());
    SOZAI_CHECK_T(DeviceError, lattice.device() == device,
                  "neighbor_list: lattice must be on the device of positions (", device, "), got ",
                  lattice.device());
    lat_cpu = lattice.to(torch::kCPU, torch::kFloat64).reshape({-1, 3, 3}).contiguous();
    SOZAI_CHECK(lat_cpu.size(0) == batch, "neighbor_list: lattice holds ", lat_cpu.size(0),
                " cells but ptr describes ", batch, " structures; expected one [3, 3] cell per structure");
    SOZAI_CHECK(torch::isfinite(lat_cpu).all().item<bool>(), "neighbor_list: lattice has non-finite entries");
    periodic = pbc;
  } else {
    lat_cpu = torch::zeros({batch, 3, 3}, torch::kFloat64);
  }

  // Effective lattices (open axes completed) and the per-structure checks
  // that need them: singular periodic vectors, and flat cells whose image
  // count would explode.
  auto eff = torch::empty({batch, 3, 3}, torch::kFloat64);
  {
    const double* in = lat_cpu.data_ptr<double>();
    double* out = eff.data_ptr<double>();
    const bool per[3] = {periodic[0], periodic[1], periodic[2]};
    for (int64_t b = 0; b < batch; ++b) {
      const double* L = in + 9 * b;
      double* E = out + 9 * b;
      nl::effective_lattice(L, per, E);
      if (!(per[0] || per[1] || per[2])) continue;
      double scale = 1.0;
      for (int k = 0; k < 3; ++k) {
        const double len = nl::norm3(E + 3 * k);
        SOZAI_CHECK(!per[k] || len > 0.0, "neighbor_list: lattice vector ", k, " of structure ", b,
                    " is zero but axis ", k, " is periodic; expected a non-zero vector (or pbc false on that axis)");
        scale *= len;
      }
      const double vol = std::fabs(nl::det3(E));
      SOZAI_CHECK(vol > 1e-10 * scale, "neighbor_list: the lattice of structure ", b,
                  " is singular along its periodic axes (volume ", vol, " for vector lengths whose product is ",
                  scale, "); expected linearly independent periodic lattice vectors");
      double h[3];
      nl::perpendicular_heights(E, h);
      double images = 1.0;
      for (int k = 0; k < 3; ++k) {
        if (per[k]) images *= 2.0 * std::ceil(cutoff / h[k]) + 1.0;
      }
      SOZAI_CHECK(images <= kMaxImages, "neighbor_list: cutoff ", cutoff, " spans ", images,
                  " periodic images of structure ", b, " (perpendicular heights ", h[0], ", ", h[1], ", ", h[2],
                  "); at most ", kMaxImages, " are supported");
    }
  }

  if (n == 0) return empty_result(positions);
  SOZAI_CHECK(torch::isfinite(positions).all().item<bool>(),
              "neighbor_list: positions must be finite, got NaN or infinite coordinates");

  auto pos64 = positions.to(torch::kFloat64).contiguous();
  NeighborList out;
  if (positions.is_cuda()) {
#ifdef SOZAI_WITH_CUDA
    out = neighbor_list_cuda(pos64, eff.to(device), cutoff, ptr_cpu.to(device), periodic, max_neighbors);
#else
    throw DeviceError("neighbor_list: positions are on a CUDA device but sozai was built without CUDA "
                      "(configure with -DSOZAI_WITH_CUDA=ON)");
#endif
  } else {
    out = neighbor_list_cpu(pos64, eff, cutoff, ptr_cpu, periodic, max_neighbors);
  }
  if (positions.scalar_type() != torch::kFloat64) out.distance = out.distance.to(positions.scalar_type());
  return out;
}

}  // namespace kernels
}  // namespace sozai
