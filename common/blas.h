#pragma once
/// Which kernels the BLAS under LibTorch runs, and the fix for a known trap.
///
/// Debian's LibTorch does its matrix products through OpenBLAS, which picks
/// its kernels at load time from the CPU's family and model. OpenBLAS 0.3.21
/// (Debian 12) does not know recent Xeons (e.g. family 6 model 207, Emerald
/// Rapids, as cloud VMs report it) and falls back to its SSE3 "Prescott"
/// kernels: GEMM-heavy work (GNN training, GP solves) then runs about 3x
/// slower than with the AVX-512 kernels the CPU supports. The choice is made
/// once, when the library loads, and only the environment variable
/// OPENBLAS_CORETYPE overrides it, so the fix has to happen before the
/// process (or the Python interpreter) loads OpenBLAS.

#include <string>

namespace sozai {

/// The kernel family OpenBLAS chose ("SkylakeX", "Prescott", ...); empty
/// when LibTorch uses another BLAS (MKL, Accelerate) or none is loaded.
std::string blas_core_name();

/// The OPENBLAS_CORETYPE this CPU should use when OpenBLAS fell back to a
/// generic core although the CPU has AVX2/AVX-512: "SkylakeX" (AVX-512 F,
/// BW, DQ, VL), "Haswell" (AVX2 + FMA); empty when OpenBLAS's own choice is
/// not a fallback, the CPU has neither, or the BLAS is not OpenBLAS.
std::string blas_core_suggestion();

/// For a program's main(): when OpenBLAS fell back to generic kernels and
/// OPENBLAS_CORETYPE is unset, sets it to blas_core_suggestion() and
/// re-executes the program (/proc/self/exe, same arguments), once. Returns
/// normally when nothing needs doing or the re-exec failed (the program
/// then runs as before, only slower). SOZAI_BLAS_REEXEC=0 turns it off.
void reexec_with_fast_blas(char** argv);

/// Sets OpenBLAS to one thread for the object's life and back afterwards,
/// for work that runs side by side on every core (GNN members training,
/// screen blocks): BLAS threads would only compete with it, and OpenBLAS's
/// threads called from several threads at once spin against each other. A
/// no-op where LibTorch uses another BLAS, or when `active` is false.
class ScopedSingleThreadBlas {
 public:
  explicit ScopedSingleThreadBlas(bool active);
  ~ScopedSingleThreadBlas();
  ScopedSingleThreadBlas(const ScopedSingleThreadBlas&) = delete;
  ScopedSingleThreadBlas& operator=(const ScopedSingleThreadBlas&) = delete;

 private:
  void (*set_)(int) = nullptr;
  int saved_ = 1;
};

}  // namespace sozai
