#pragma once
/// Reducers of the segment and scatter operations, written once for host and
/// device (included by segment_cpu.cpp and segment_cuda.cu).

#include "kernels/host_device.h"

#include <cstdint>

namespace sozai {
namespace kernels {

/// Which reduction. Values are stable: they cross the host/device boundary.
enum class Reduce : int32_t { Sum = 0, Mean = 1, Max = 2 };

namespace impl {

/// Whether v replaces the current maximum: strictly greater, or a NaN over a
/// number (NaN propagates, as in torch's amax).
template <typename T>
SOZAI_HOST_DEVICE inline bool max_replaces(T v, T current) {
  return v > current || (v != v && current == current);
}

/// Running reduction of one output element over rows visited in increasing
/// order. Max keeps the first (lowest-index) maximum, so the argmax of a tie
/// is the same on every backend, and lets a NaN win as torch's amax does.
template <typename T>
struct Reducer {
  Reduce op;
  T value = T(0);
  int64_t arg = -1;  ///< row of the maximum; -1 while nothing was seen
  int64_t count = 0;

  SOZAI_HOST_DEVICE explicit Reducer(Reduce op_) : op(op_) {}

  SOZAI_HOST_DEVICE void update(T v, int64_t row) {
    ++count;
    if (op != Reduce::Max) {
      value += v;
    } else if (arg < 0 || max_replaces(v, value)) {
      value = v;
      arg = row;
    }
  }

  /// Empty segments give 0 (as pytorch_scatter) and, for max, the argmax
  /// `empty_arg` (the number of source rows: one past the last valid row).
  SOZAI_HOST_DEVICE T result() const {
    if (count == 0) return T(0);
    if (op == Reduce::Mean) return value / static_cast<T>(count);
    return value;
  }
  SOZAI_HOST_DEVICE int64_t result_arg(int64_t empty_arg) const { return arg < 0 ? empty_arg : arg; }
};

}  // namespace impl
}  // namespace kernels
}  // namespace sozai
