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

/// The threads OpenBLAS uses now; 0 where LibTorch uses another BLAS.
int blas_num_threads();

/// Below this many rows a Gaussian process's matrices are too small for
/// OpenBLAS's threads to pay: their start-up and spinning cost more than
/// they share out. Measured on 2 vCPUs (AMD EPYC, OpenBLAS 0.3.21), a
/// Cholesky factor, a solve and a product of n x n matrices with two
/// threads against one: 0.26x the speed at n = 100, 0.43x at 250, 0.87x at
/// 500, 1.25x at 1000, 1.75x at 2000. Work on fewer rows runs BLAS on one
/// thread (ScopedSingleThreadBlas(rows < kBlasThreadRows)).
constexpr long kBlasThreadRows = 512;

/// Sets OpenBLAS to one thread for the object's life and back afterwards,
/// for work that runs side by side on every core (GNN members training,
/// screen blocks) or on small matrices (a campaign's ask, a GP's fit below
/// kBlasThreadRows rows): BLAS threads would only compete with it, and OpenBLAS's
/// threads called from several threads at once spin against each other. A
/// no-op where LibTorch uses another BLAS, or when `active` is false.
/// Scopes may nest or overlap across threads: the count found by the first
/// is restored when the last one ends.
class ScopedSingleThreadBlas {
 public:
  explicit ScopedSingleThreadBlas(bool active);
  ~ScopedSingleThreadBlas();
  ScopedSingleThreadBlas(const ScopedSingleThreadBlas&) = delete;
  ScopedSingleThreadBlas& operator=(const ScopedSingleThreadBlas&) = delete;

 private:
  void (*set_)(int) = nullptr;
};

}  // namespace sozai
