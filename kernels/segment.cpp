// Validation, device dispatch and autograd of the segment and scatter
// reductions. Inputs are checked once here, so the CPU and CUDA loops can
// trust them (shapes, dtypes, devices, offsets and index ranges).
#include "common/error.h"
#include "common/strings.h"
#include "kernels/segment.h"

#include <torch/autograd.h>


namespace sozai {
namespace kernels {

Reduce reduce_from_string(const std::string& name) {
  const std::string s = to_lower(name);
  if (s == "sum" || s == "add") return Reduce::Sum;
  if (s == "mean") return Reduce::Mean;
  if (s == "max" || s == "amax") return Reduce::Max;
  throw InputError(str("unknown reduction '", name, "'; expected one of sum, mean, max"));
}

std::string to_string(Reduce reduce) {
  switch (reduce) {
    case Reduce::Sum: return "sum";
    case Reduce::Mean: return "mean";
    case Reduce::Max: return "max";
  }
  return "unknown";
}

namespace {

void check_src(const torch::Tensor& src, const char* op) {
  SOZAI_CHECK(src.defined(), op, ": src must be a defined tensor");
  SOZAI_CHECK(src.dim() >= 1, op, ": src must have at least one dimension (rows first), got a scalar");
  SOZAI_CHECK(src.scalar_type() == torch::kFloat32 || src.scalar_type() == torch::kFloat64, op,
              ": src must be float32 or float64, got ", src.scalar_type());
  SOZAI_CHECK_T(DeviceError, src.is_cpu() || src.is_cuda(), op, ": unsupported device ", src.device());
}

/// int64 index-like tensor on src's device; int32 is widened.
torch::Tensor check_index_like(const torch::Tensor& t, const torch::Tensor& src, const char* op, const char* what) {
  SOZAI_CHECK(t.defined(), op, ": ", what, " must be a defined tensor");
  SOZAI_CHECK(t.dim() == 1, op, ": ", what, " must be 1-D, got shape ", t.sizes());
  SOZAI_CHECK(t.scalar_type() == torch::kInt64 || t.scalar_type() == torch::kInt32, op, ": ", what,
              " must be int64 (or int32), got ", t.scalar_type());
  SOZAI_CHECK_T(DeviceError, t.device() == src.device(), op, ": ", what, " is on ", t.device(), " but src is on ",
                src.device());
  return t.to(torch::kInt64).contiguous();
}

torch::Tensor checked_ptr(const torch::Tensor& src, const torch::Tensor& ptr_in, const char* op) {
  check_src(src, op);
  auto ptr = check_index_like(ptr_in, src, op, "ptr");
  SOZAI_CHECK(ptr.numel() >= 1, op, ": ptr needs at least one offset (ptr = [0] for no segments)");
  const int64_t E = src.size(0);
  auto cpu = ptr.cpu();
  const int64_t* p = cpu.data_ptr<int64_t>();
  const int64_t n = cpu.numel();
  SOZAI_CHECK(p[0] == 0, op, ": ptr[0] must be 0, got ", p[0]);
  SOZAI_CHECK(p[n - 1] == E, op, ": ptr[-1] must equal the number of rows of src (", E, "), got ", p[n - 1]);
  for (int64_t i = 1; i < n; ++i) {
    SOZAI_CHECK(p[i] >= p[i - 1], op, ": ptr must be non-decreasing, but ptr[", i, "] = ", p[i], " < ptr[", i - 1,
                "] = ", p[i - 1]);
  }
  return ptr;
}

std::pair<torch::Tensor, int64_t> checked_index(const torch::Tensor& src, const torch::Tensor& index_in,
                                                int64_t dim_size, const char* op) {
  check_src(src, op);
  auto index = check_index_like(index_in, src, op, "index");
  SOZAI_CHECK(index.numel() == src.size(0), op, ": index has ", index.numel(), " entries but src has ", src.size(0),
              " rows");
  int64_t lo = 0, hi = -1;
  if (index.numel() > 0) {
    lo = index.min().item<int64_t>();
    hi = index.max().item<int64_t>();
  }
  SOZAI_CHECK(lo >= 0, op, ": index values must be >= 0, found ", lo);
  if (dim_size < 0) dim_size = hi + 1;
  SOZAI_CHECK(hi < dim_size, op, ": index value ", hi, " is out of range for dim_size ", dim_size);
  return {index, dim_size};
}

std::vector<int64_t> out_shape(const torch::Tensor& src, int64_t rows) {
  auto shape = src.sizes().vec();
  shape[0] = rows;
  return shape;
}

/// F of src when E may be 0 (so numel/E is undefined).
int64_t row_width(const torch::Tensor& src) {
  int64_t F = 1;
  for (int64_t d = 1; d < src.dim(); ++d) F *= src.size(d);
  return F;
}

std::tuple<torch::Tensor, torch::Tensor> segment_forward(const torch::Tensor& src, const torch::Tensor& ptr,
                                                         Reduce reduce) {
  auto rows = src.contiguous().reshape({src.size(0), row_width(src)});
  torch::Tensor out, arg;
  if (src.is_cuda()) {
#ifdef SOZAI_WITH_CUDA
    std::tie(out, arg) = segment_csr_cuda(rows, ptr, reduce);
#else
    throw DeviceError("segment reduction: src is on a CUDA device but sozai was built without CUDA "
                      "(configure with -DSOZAI_WITH_CUDA=ON)");
#endif
  } else {
    std::tie(out, arg) = segment_csr_cpu(rows, ptr, reduce);
  }
  auto shape = out_shape(src, ptr.numel() - 1);
  return {out.view(shape), arg.defined() ? arg.view(shape) : arg};
}

std::tuple<torch::Tensor, torch::Tensor> scatter_forward(const torch::Tensor& src, const torch::Tensor& index,
                                                         int64_t dim_size, Reduce reduce) {
  auto rows = src.contiguous().reshape({src.size(0), row_width(src)});
  torch::Tensor out, arg;
  if (src.is_cuda()) {
#ifdef SOZAI_WITH_CUDA
    std::tie(out, arg) = scatter_cuda(rows, index, dim_size, reduce);
#else
    throw DeviceError("scatter reduction: src is on a CUDA device but sozai was built without CUDA "
                      "(configure with -DSOZAI_WITH_CUDA=ON)");
#endif
  } else {
    std::tie(out, arg) = scatter_cpu(rows, index, dim_size, reduce);
  }
  auto shape = out_shape(src, dim_size);
  return {out.view(shape), arg.defined() ? arg.view(shape) : arg};
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Gradient of src from the gradient of the output, shared by both
/// groupings: `group` [E] maps each row to its output row, `count` [B] rows
/// per output row (for mean), `arg` the argmax (for max).
torch::Tensor grad_of_src(const torch::Tensor& grad_out, const torch::Tensor& group, const torch::Tensor& count,
                          const torch::Tensor& arg, Reduce reduce, const std::vector<int64_t>& src_shape) {
  const int64_t E = src_shape[0];
  if (reduce == Reduce::Max) {
    // Row E collects the empty groups' argmax and is dropped.
    auto shape = src_shape;
    shape[0] = E + 1;
    auto g = torch::zeros(shape, grad_out.options());
    return g.scatter_add(0, arg, grad_out).narrow(0, 0, E);
  }
  auto g = grad_out;
  if (reduce == Reduce::Mean) {
    std::vector<int64_t> bshape(static_cast<size_t>(grad_out.dim()), 1);
    bshape[0] = count.numel();
    g = g / count.clamp_min(1).to(grad_out.scalar_type()).view(bshape);
  }
  return g.index_select(0, group);
}

/// Saves what both backward passes need: the reduction, the source shape,
/// the grouping tensor (ptr or index) and the arg positions (empty unless
/// max), which are not differentiable.
variable_list save_forward(AutogradContext* ctx, const torch::Tensor& out, torch::Tensor arg, const torch::Tensor& src,
                           const torch::Tensor& grouping, int64_t reduce) {
  if (!arg.defined()) arg = torch::empty({0}, grouping.options());
  ctx->saved_data["reduce"] = reduce;
  ctx->saved_data["shape"] = src.sizes().vec();
  ctx->save_for_backward({grouping, arg});
  ctx->mark_non_differentiable({arg});
  return {out, arg};
}

class SegmentFunction : public torch::autograd::Function<SegmentFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& src, const torch::Tensor& ptr,
                               int64_t reduce) {
    auto result = segment_forward(src, ptr, static_cast<Reduce>(reduce));
    return save_forward(ctx, std::get<0>(result), std::get<1>(result), src, ptr, reduce);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto reduce = static_cast<Reduce>(ctx->saved_data["reduce"].toInt());
    const auto shape = ctx->saved_data["shape"].toIntVector();
    const auto& ptr = saved[0];
    torch::Tensor group, count;
    if (reduce != Reduce::Max) {
      group = ptr_to_index(ptr, shape[0]);
      count = ptr.narrow(0, 1, ptr.numel() - 1) - ptr.narrow(0, 0, ptr.numel() - 1);
    }
    return {grad_of_src(grads[0], group, count, saved[1], reduce, shape), torch::Tensor(), torch::Tensor()};
  }
};

class ScatterFunction : public torch::autograd::Function<ScatterFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& src, const torch::Tensor& index,
                               int64_t dim_size, int64_t reduce) {
    ctx->saved_data["dim_size"] = dim_size;
    auto result = scatter_forward(src, index, dim_size, static_cast<Reduce>(reduce));
    return save_forward(ctx, std::get<0>(result), std::get<1>(result), src, index, reduce);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto reduce = static_cast<Reduce>(ctx->saved_data["reduce"].toInt());
    const auto shape = ctx->saved_data["shape"].toIntVector();
    const auto& index = saved[0];
    torch::Tensor count;
    if (reduce == Reduce::Mean) count = torch::bincount(index, {}, ctx->saved_data["dim_size"].toInt());
    return {grad_of_src(grads[0], index, count, saved[1], reduce, shape), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor ptr_to_index(const torch::Tensor& ptr, int64_t num_rows) {
  const int64_t B = ptr.numel() - 1;
  auto counts = ptr.narrow(0, 1, B) - ptr.narrow(0, 0, B);
  auto ids = torch::arange(B, ptr.options());
  return torch::repeat_interleave(ids, counts, /*dim=*/0, /*output_size=*/num_rows);
}

std::tuple<torch::Tensor, torch::Tensor> segment_reduce(const torch::Tensor& src, const torch::Tensor& ptr_in,
                                                        Reduce reduce) {
  auto ptr = checked_ptr(src, ptr_in, "segment_reduce");
  auto outs = SegmentFunction::apply(src, ptr, static_cast<int64_t>(reduce));
  return {outs[0], reduce == Reduce::Max ? outs[1] : torch::Tensor()};
}

std::tuple<torch::Tensor, torch::Tensor> scatter_reduce(const torch::Tensor& src, const torch::Tensor& index_in,
                                                        int64_t dim_size, Reduce reduce) {
  auto checked = checked_index(src, index_in, dim_size, "scatter_reduce");
  auto outs = ScatterFunction::apply(src, checked.first, checked.second, static_cast<int64_t>(reduce));
  return {outs[0], reduce == Reduce::Max ? outs[1] : torch::Tensor()};
}

torch::Tensor segment_sum(const torch::Tensor& src, const torch::Tensor& ptr) {
  return std::get<0>(segment_reduce(src, ptr, Reduce::Sum));
}
torch::Tensor segment_mean(const torch::Tensor& src, const torch::Tensor& ptr) {
  return std::get<0>(segment_reduce(src, ptr, Reduce::Mean));
}
std::tuple<torch::Tensor, torch::Tensor> segment_max(const torch::Tensor& src, const torch::Tensor& ptr) {
  return segment_reduce(src, ptr, Reduce::Max);
}
torch::Tensor scatter_sum(const torch::Tensor& src, const torch::Tensor& index, int64_t dim_size) {
  return std::get<0>(scatter_reduce(src, index, dim_size, Reduce::Sum));
}
torch::Tensor scatter_mean(const torch::Tensor& src, const torch::Tensor& index, int64_t dim_size) {
  return std::get<0>(scatter_reduce(src, index, dim_size, Reduce::Mean));
}
std::tuple<torch::Tensor, torch::Tensor> scatter_max(const torch::Tensor& src, const torch::Tensor& index,
                                                     int64_t dim_size) {
  return scatter_reduce(src, index, dim_size, Reduce::Max);
}

}  // namespace kernels
}  // namespace sozai
