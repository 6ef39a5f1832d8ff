// sozai.kernels.kernel_matrix / pack_bits / tanimoto. Results are handed to
// numpy without a copy: the array keeps the result tensor alive through a
// capsule (a 7000 x 7000 similarity matrix is 200 MB).
#include "convert.h"

#include "kernels/kernel_matrix.h"

namespace sozai {
namespace {

/// A numpy view of a contiguous CPU tensor that owns a reference to it.
template <typename T>
py::array_t<T> owned_numpy(torch::Tensor t) {
  auto* keep = new torch::Tensor(std::move(t));
  py::capsule base(keep, [](void* p) { delete static_cast<torch::Tensor*>(p); });
  std::vector<py::ssize_t> shape(keep->sizes().begin(), keep->sizes().end());
  return py::array_t<T>(shape, keep->data_ptr<T>(), base);
}

/// A C-contiguous 2-D numpy array of 64-bit words (uint64 or int64: the
/// same bits) as an int64 tensor viewing its buffer; `a` must outlive the
/// tensor.
torch::Tensor words_view(const py::array& a, const char* what) {
  SOZAI_CHECK(a.ndim() == 2, what, " must be a 2-D array of packed words [n, words], got ", a.ndim(), "-D");
  const auto dt = a.dtype();
  SOZAI_CHECK((dt.kind() == 'u' || dt.kind() == 'i') && dt.itemsize() == 8, what,
              " must be uint64 or int64 words from pack_bits, got dtype ", dt.attr("name").cast<std::string>());
  SOZAI_ASSERT(a.flags() & py::array::c_style);
  return torch::from_blob(const_cast<void*>(a.data()), {a.shape(0), a.shape(1)}, torch::kInt64);
}

}  // namespace

void bind_kernel_matrix(py::module_& root) {
  py::module_ m = root.attr("kernels");
  m.def(
      "kernel_matrix",
      [](const DoubleArray& x1, const DoubleArray& x2, const DoubleArray& lengthscale, double outputscale,
         const std::string& kind) {
        const auto k = kernels::kernel_kind_from_string(kind);
        auto a = to_tensor(x1, 2, "x1");
        auto b = to_tensor(x2, 2, "x2");
        SOZAI_CHECK(lengthscale.ndim() <= 1, "lengthscale must be a scalar or a 1-D array, got ", lengthscale.ndim(),
                    "-D");
        auto ls = to_tensor(lengthscale, -1, "lengthscale").reshape({-1});
        torch::Tensor K;
        {
          py::gil_scoped_release nogil;
          K = kernels::kernel_matrix(a, b, ls, outputscale, k);
        }
        return owned_numpy<double>(K);
      },
      py::arg("x1"), py::arg("x2"), py::arg("lengthscale"), py::arg("outputscale") = 1.0,
      py::arg("kind") = "matern52",
      "Kernel matrix K [n, m] (float64) between x1 [n, d] and x2 [m, d].\n\n"
      "kind 'matern52': K = s (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r); 'rbf': K = s exp(-r^2/2);\n"
      "r = |(x1_i - x2_j) / lengthscale|, lengthscale a scalar or [d] (ARD), s = outputscale\n"
      "(the signal variance). Same conventions as scikit-learn's Matern(nu=2.5) / RBF times s.\n\n"
      ">>> sozai.kernels.kernel_matrix([[0.0], [1.0]], [[0.0]], 1.0, kind='rbf')  # doctest: +SKIP\n"
      "array([[1.        ],\n       [0.60653066]])");
  m.def(
      "pack_bits",
      [](const py::array& bits) {
        SOZAI_CHECK(bits.ndim() == 2, "bits must be a 2-D array [n, nbits], got ", bits.ndim(), "-D");
        const auto dt = bits.dtype();
        const bool is_bool = dt.kind() == 'b';
        SOZAI_CHECK(is_bool || (dt.kind() == 'u' && dt.itemsize() == 1), "bits must be bool or uint8, got dtype ",
                    dt.attr("name").cast<std::string>());
        auto c = py::array::ensure(bits, py::array::c_style);
        auto t = torch::from_blob(const_cast<void*>(c.data()), {c.shape(0), c.shape(1)},
                                  is_bool ? torch::kBool : torch::kUInt8);
        torch::Tensor words;
        {
          py::gil_scoped_release nogil;
          words = kernels::pack_bits(t);
        }
        // Same bytes seen as unsigned: a bit pattern, not a number.
        auto out = owned_numpy<int64_t>(words);
        return py::array(out.attr("view")("uint64"));
      },
      py::arg("bits"),
      "Packs fingerprint bits [n, nbits] (bool or uint8, nonzero = set) into uint64 words\n"
      "[n, ceil(nbits/64)]: bit k of a row is bit k % 64 (least significant first) of word k // 64;\n"
      "unused high bits of the last word are 0.\n\n"
      ">>> sozai.kernels.pack_bits(np.array([[1, 0, 1]], dtype=np.uint8))  # doctest: +SKIP\n"
      "array([[5]], dtype=uint64)");
  m.def(
      "tanimoto",
      [](const py::array& a, const py::array& b) {
        // Slices such as fps[::2] are copied to C order; the copies live to the end of the call.
        const auto ca = py::array::ensure(a, py::array::c_style);
        const auto cb = py::array::ensure(b, py::array::c_style);
        SOZAI_CHECK(ca && cb, "tanimoto: a and b must be numpy arrays of packed words");
        auto ta = words_view(ca, "a");
        auto tb = words_view(cb, "b");
        torch::Tensor T;
        {
          py::gil_scoped_release nogil;
          T = kernels::tanimoto(ta, tb);
        }
        return owned_numpy<float>(T);
      },
      py::arg("a"), py::arg("b"),
      "Tanimoto similarities [n, m] (float32) between packed fingerprints a [n, w] and b [m, w]\n"
      "(uint64 or int64 words from pack_bits): |a & b| / |a | b|, 1 for two empty fingerprints\n"
      "(as RDKit). Equal to RDKit's BulkTanimotoSimilarity rounded to float32.\n\n"
      ">>> fp = sozai.kernels.pack_bits(np.array([[1, 1, 0], [1, 0, 0]], dtype=bool))  # doctest: +SKIP\n"
      ">>> sozai.kernels.tanimoto(fp, fp)  # doctest: +SKIP\n"
      "array([[1. , 0.5],\n       [0.5, 1. ]], dtype=float32)");
}

}  // namespace sozai
