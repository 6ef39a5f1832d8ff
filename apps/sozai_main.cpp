#include "apps/cli.h"
#include "common/blas.h"

int main(int argc, char** argv) {
  sozai::reexec_with_fast_blas(argv);  // OpenBLAS's generic kernels on an unknown CPU: 3x slower GEMM
  std::vector<std::string> args(argv + 1, argv + argc);
  return sozai::cli::run(args);
}
