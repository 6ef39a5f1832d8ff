#include "apps/cli.h"
#include "common/blas.h"

#include <ATen/Parallel.h>
#include <sched.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace {

/// Physical cores this process may run on, from Linux's topology files (0
/// when they cannot be read): the distinct (package, core) pairs of the CPUs
/// in its affinity mask.
int physical_cores() {
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return 0;
  std::set<std::pair<std::string, std::string>> cores;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &mask)) continue;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(c) + "/topology/";
    std::ifstream package(dir + "physical_package_id"), core(dir + "core_id");
    std::string p, k;
    if (!(package >> p) || !(core >> k)) return 0;
    cores.emplace(p, k);
  }
  return static_cast<int>(cores.size());
}

}  // namespace

int main(int argc, char** argv) {
  sozai::reexec_with_fast_blas(argv);  // OpenBLAS's generic kernels on an unknown CPU: 3x slower GEMM
  // LibTorch counts physical cores from CPUID, which some VMs misreport (an AMD EPYC guest with two cores
  // showed one, so every command ran on one thread); the kernel's topology files are right. Without
  // OMP_NUM_THREADS, the command uses every physical core it may run on (--threads and MPI ranks still
  // choose fewer).
  if (!std::getenv("OMP_NUM_THREADS")) {
    const int cores = physical_cores();
    if (cores > at::get_num_threads()) at::set_num_threads(cores);
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  return sozai::cli::run(args);
}
