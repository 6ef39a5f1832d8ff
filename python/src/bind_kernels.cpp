#include "convert.h"

#include <pybind11/stl.h>

#include "core/bo/registry.h"
#include "kernels/acquisition.h"
#include "kernels/acquisition_topk.h"
#include "kernels/segment.h"

namespace sozai {
namespace {

kernels::AcquisitionParams make_params(const std::string& kind, double best_f, double beta, bool maximize) {
  kernels::AcquisitionParams p;
  p.kind = acquisition_info(kind).kind;  // the registry parses every name
  p.best_f = best_f;
  p.beta = beta;
  p.maximize = maximize;
  return p;
}

py::tuple topk_to_python(const kernels::TopK& t) {
  if (!t.values.defined()) return py::make_tuple(py::array_t<double>(0), py::array_t<int64_t>(0));
  return py::make_tuple(to_numpy(t.values), to_numpy_int64(t.indices));
}

py::object reduce_result(const std::tuple<torch::Tensor, torch::Tensor>& r, bool with_arg) {
  if (!with_arg) return to_numpy(std::get<0>(r));
  return py::make_tuple(to_numpy(std::get<0>(r)), to_numpy_int64(std::get<1>(r)));
}

void bind_segment(py::module_& m) {
  using kernels::Reduce;
  auto seg = [](Reduce reduce) {
    return [reduce](const DoubleArray& src, const IndexArray& ptr) {
      return reduce_result(kernels::segment_reduce(to_tensor(src, -1, "src"), to_index_tensor(ptr, 1, "ptr"), reduce),
                           reduce == Reduce::Max);
    };
  };
  auto sc = [](Reduce reduce) {
    return [reduce](const DoubleArray& src, const IndexArray& index, py::object dim_size) {
      const int64_t d = dim_size.is_none() ? -1 : dim_size.cast<int64_t>();
      SOZAI_CHECK(dim_size.is_none() || d >= 0, "dim_size must be >= 0 or None, got ", d);
      return reduce_result(
          kernels::scatter_reduce(to_tensor(src, -1, "src"), to_index_tensor(index, 1, "index"), d, reduce),
          reduce == Reduce::Max);
    };
  };
  const char* seg_doc =
      "Reduces the rows of src [E, ...] over CSR segments ptr [B+1] (ptr[0] = 0, non-decreasing, ptr[-1] = E) "
      "into [B, ...]. Empty segments give 0.";
  const char* sc_doc =
      "Reduces row e of src [E, ...] into output row index[e] (unsorted); dim_size defaults to index.max() + 1. "
      "Empty rows give 0.";
  m.def("segment_sum", seg(Reduce::Sum), py::arg("src"), py::arg("ptr"), seg_doc);
  m.def("segment_mean", seg(Reduce::Mean), py::arg("src"), py::arg("ptr"), seg_doc);
  m.def("segment_max", seg(Reduce::Max), py::arg("src"), py::arg("ptr"),
        "Like segment_sum but the maximum; returns (values, argmax) where argmax is the row of src holding it "
        "(E for an empty segment).");
  m.def("scatter_sum", sc(Reduce::Sum), py::arg("src"), py::arg("index"), py::arg("dim_size") = py::none(), sc_doc);
  m.def("scatter_mean", sc(Reduce::Mean), py::arg("src"), py::arg("index"), py::arg("dim_size") = py::none(),
        sc_doc);
  m.def("scatter_max", sc(Reduce::Max), py::arg("src"), py::arg("index"), py::arg("dim_size") = py::none(),
        "Like scatter_sum but the maximum; returns (values, argmax).");
}

void bind_topk(py::module_& m) {
  m.def(
      "acquisition_topk",
      [](const DoubleArray& mean, const DoubleArray& variance, int64_t k, const std::string& kind, double best_f,
         double beta, bool maximize, int64_t index_offset) {
        return topk_to_python(kernels::acquisition_topk(to_tensor(mean, 1, "mean"), to_tensor(variance, 1, "variance"),
                                                        make_params(kind, best_f, beta, maximize), k, index_offset));
      },
      py::arg("mean"), py::arg("variance"), py::arg("k"), py::arg("kind") = "logei", py::arg("best_f") = 0.0,
      py::arg("beta") = 4.0, py::arg("maximize") = true, py::arg("index_offset") = 0,
      "The k best acquisition values of a chunk of candidates and their indices (plus index_offset), best first, "
      "without storing the chunk's values. NaN values are never selected.\n\n"
      ">>> v, i = sozai.kernels.acquisition_topk([0.0, 2.0, 1.0], [1.0, 1.0, 1.0], k=2, kind='ucb')  # doctest: +SKIP\n"
      ">>> i\narray([1, 2])");
  py::class_<kernels::RunningTopK>(m, "RunningTopK",
                                   "Running top-k over a stream of candidate chunks: memory depends on k, never on "
                                   "the size of the library.")
      .def(py::init<int64_t>(), py::arg("k"))
      .def(
          "push_acquisition",
          [](kernels::RunningTopK& self, const DoubleArray& mean, const DoubleArray& variance, int64_t index_offset,
             const std::string& kind, double best_f, double beta, bool maximize) {
            self.push_acquisition(to_tensor(mean, 1, "mean"), to_tensor(variance, 1, "variance"),
                                  make_params(kind, best_f, beta, maximize), index_offset);
          },
          py::arg("mean"), py::arg("variance"), py::arg("index_offset"), py::arg("kind") = "logei",
          py::arg("best_f") = 0.0, py::arg("beta") = 4.0, py::arg("maximize") = true,
          "Scores a chunk that starts at index_offset of the library and merges its best.")
      .def(
          "push_scores",
          [](kernels::RunningTopK& self, const DoubleArray& scores, int64_t index_offset) {
            self.push_scores(to_tensor(scores, 1, "scores"), index_offset);
          },
          py::arg("scores"), py::arg("index_offset"), "Merges the best of precomputed scores (larger is better).")
      .def_property_readonly("k", &kernels::RunningTopK::k)
      .def_property_readonly("seen", &kernels::RunningTopK::seen, "Candidates pushed so far.")
      .def_property_readonly(
          "values", [](const kernels::RunningTopK& self) -> py::object { return topk_to_python(self.best())[0]; },
          "Best values so far, best first.")
      .def_property_readonly(
          "indices", [](const kernels::RunningTopK& self) -> py::object { return topk_to_python(self.best())[1]; },
          "Library indices of the best values, best first.");
}

}  // namespace

void bind_kernels(py::module_& root) {
  auto m = root.def_submodule("kernels", "Hot operations with CPU and CUDA implementations");
  m.def(
      "analytic_acquisition",
      [](const DoubleArray& mean, const DoubleArray& variance, const std::string& kind, double best_f, double beta,
         bool maximize) {
        return to_numpy(kernels::analytic_acquisition(to_tensor(mean, -1, "mean"), to_tensor(variance, -1, "variance"),
                                                      make_params(kind, best_f, beta, maximize)));
      },
      py::arg("mean"), py::arg("variance"), py::arg("kind") = "logei", py::arg("best_f") = 0.0,
      py::arg("beta") = 4.0, py::arg("maximize") = true,
      "Elementwise EI / LogEI / UCB / PI from posterior mean and variance (larger is better).\n\n"
      ">>> sozai.kernels.analytic_acquisition([0.0], [1.0], 'ei', best_f=0.0)  # doctest: +SKIP\n"
      "array([0.39894228])");
  bind_segment(m);
  bind_topk(m);
}

}  // namespace sozai
