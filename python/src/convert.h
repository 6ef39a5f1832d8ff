#pragma once
// numpy <-> torch conversion at the binding boundary. The Python API takes
// and returns numpy arrays (DESIGN.md: numpy in and out); tensors never
// cross into Python, so the extension does not depend on the Python torch.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <torch/types.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"

namespace sozai {
namespace py = pybind11;
/// A float64 array argument: a numpy array or anything numpy converts
/// (cast to float64, C order), or a pandas DataFrame or Series, checked by
/// sozai.frames first (a missing value, a non-numeric column or a repeated
/// column name is an InputError naming the column and the rows).
class DoubleArray : public py::array_t<double, py::array::c_style | py::array::forcecast> {
 public:
  using Base = py::array_t<double, py::array::c_style | py::array::forcecast>;
  using Base::Base;
  DoubleArray() = default;
  DoubleArray(Base b) : Base(std::move(b)) {}  // NOLINT: implicit, as the alias it replaces
};

/// Whether `o` is a pandas object (DataFrame, Series, Index).
bool is_pandas(py::handle o);
/// A pandas DataFrame or Series as the float64 array sozai.frames makes of
/// it (InputError naming the column and rows of what it cannot take).
py::object pandas_to_array(py::handle o);

/// Copies a numpy array of T and rank `rank` (or any rank if -1) into a CPU
/// tensor of T; `what` names the argument in errors.
template <typename T>
torch::Tensor array_to_tensor(const py::array_t<T, py::array::c_style | py::array::forcecast>& a, int rank,
                              const char* what) {
  SOZAI_CHECK(rank < 0 || a.ndim() == rank, what, " must be a ", rank, "-D array, got ", a.ndim(), "-D");
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  return torch::from_blob(const_cast<T*>(a.data()), shape, c10::CppTypeToScalarType<T>::value).clone();
}

/// Copies a tensor (any device and dtype) into a new numpy array of T.
template <typename T>
py::array_t<T> tensor_to_numpy(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, c10::CppTypeToScalarType<T>::value).contiguous();
  std::vector<py::ssize_t> shape(c.sizes().begin(), c.sizes().end());
  py::array_t<T> out(shape);
  std::memcpy(out.mutable_data(), c.template data_ptr<T>(), sizeof(T) * c.numel());
  return out;
}

/// A float64 numpy array as a CPU float64 tensor.
inline torch::Tensor to_tensor(const DoubleArray& a, int rank, const char* what) {
  return array_to_tensor<double>(a, rank, what);
}
/// A tensor as a new float64 numpy array.
inline py::array_t<double> to_numpy(const torch::Tensor& t) { return tensor_to_numpy<double>(t); }

using IndexArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

/// An integer numpy array (cast to int64) as a CPU int64 tensor.
inline torch::Tensor to_index_tensor(const IndexArray& a, int rank, const char* what) {
  return array_to_tensor<int64_t>(a, rank, what);
}
/// An integer tensor as a new int64 numpy array.
inline py::array_t<int64_t> to_numpy_int64(const torch::Tensor& t) { return tensor_to_numpy<int64_t>(t); }

/// Copies a tensor into numpy keeping its kind: float32/float64 stay as
/// they are, integers become int64, bool stays bool; None if undefined.
inline py::object to_numpy_any(const torch::Tensor& t) {
  if (!t.defined()) return py::none();
  auto c = t.detach().to(torch::kCPU).contiguous();
  std::vector<py::ssize_t> shape(c.sizes().begin(), c.sizes().end());
  auto copy = [&](auto tag) {
    using T = decltype(tag);
    py::array_t<T> out(shape);
    std::memcpy(out.mutable_data(), c.template data_ptr<T>(), sizeof(T) * c.numel());
    return py::object(std::move(out));
  };
  switch (c.scalar_type()) {
    case torch::kFloat32: return copy(float{});
    case torch::kFloat64: return copy(double{});
    case torch::kBool: return copy(bool{});
    default: c = c.to(torch::kInt64); return copy(int64_t{});
  }
}

inline py::array_t<int64_t> to_numpy_index(const std::vector<int64_t>& v) {
  py::array_t<int64_t> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

/// A Python value (dict, list, tuple, str, bool, int, float, None, numpy
/// arrays and scalars) as JSON; InputError naming `where` for anything
/// else. Settings cross the boundary this way and are read by the C++
/// JSON readers, so Python gets the same checks and messages as the
/// command line and the lab service.
nlohmann::json to_json(py::handle v, const std::string& where, int depth = 0);
/// JSON as Python values (dicts, lists, numbers, strings).
py::object to_python(const nlohmann::json& j);
/// Campaign settings (campaign_config.h) from keyword arguments; maximize
/// (True, False or None) is the shorthand for one objective.
nlohmann::json settings_json(const py::kwargs& kwargs, const py::object& maximize,
                             const std::string& where = "settings");

void bind_common(py::module_& m);
void bind_kernels(py::module_& m);
void bind_featurize(py::module_& m);
void bind_polymer(py::module_& m);
void bind_crystal(py::module_& m);
void bind_composition(py::module_& root);
void bind_spaces(py::module_& m);
void bind_kernel_matrix(py::module_& m);
void bind_neighbors(py::module_& m);
void bind_models(py::module_& m);
void bind_gnn(py::module_& m);
void bind_bo(py::module_& m);
void bind_campaign(py::module_& m);
void bind_benchmark(py::module_& m);
void bind_lab(py::module_& m);
void bind_datasets(py::module_& m);
void bind_federated(py::module_& m);
void bind_screen(py::module_& m);

}  // namespace sozai

namespace pybind11 {
namespace detail {
template <>
struct type_caster<sozai::DoubleArray> {
  PYBIND11_TYPE_CASTER(sozai::DoubleArray, const_name("numpy.ndarray[numpy.float64] | pandas.DataFrame"));
  bool load(handle src, bool convert) {
    object held;
    if (sozai::is_pandas(src)) {
      if (!convert) return false;
      held = sozai::pandas_to_array(src);  // throws InputError for what it cannot take
      src = held;
    }
    using Base = sozai::DoubleArray::Base;
    if (!convert && !Base::check_(src)) return false;
    auto a = Base::ensure(src);
    if (!a) return false;
    value = sozai::DoubleArray(std::move(a));
    return true;
  }
  static handle cast(const sozai::DoubleArray& src, return_value_policy, handle) { return src.inc_ref(); }
};
}  // namespace detail
}  // namespace pybind11

