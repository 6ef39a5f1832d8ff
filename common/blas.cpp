#include "common/blas.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

namespace sozai {

namespace {

/// An OpenBLAS function wherever the process loaded it: in the global scope
/// (a program linked against LibTorch), or in a library loaded locally (a
/// Python process loads extension modules and what they need with
/// RTLD_LOCAL, where RTLD_DEFAULT does not see them). Null when absent.
void* blas_symbol(const char* name) {
  if (void* p = dlsym(RTLD_DEFAULT, name)) return p;
  struct Search {
    const char* name;
    void* found;
  } search{name, nullptr};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        auto* s = static_cast<Search*>(data);
        if (!info->dlpi_name || !*info->dlpi_name) return 0;
        void* handle = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);  // already loaded: no new load
        if (!handle) return 0;
        s->found = dlsym(handle, s->name);
        dlclose(handle);  // drops the reference NOLOAD took; the library stays loaded
        return s->found ? 1 : 0;
      },
      &search);
  return search.found;
}

}  // namespace

std::string blas_core_name() {
  auto get = reinterpret_cast<char* (*)()>(blas_symbol("openblas_get_corename"));
  if (!get) return "";
  const char* name = get();
  return name ? std::string(name) : std::string();
}

std::string blas_core_suggestion() {
  // OpenBLAS's generic x86-64 cores: what it falls back to for a CPU model
  // it does not know. A recognised core (Haswell, SkylakeX, Zen, Cooperlake,
  // SapphireRapids, ...) is never second-guessed.
  static const std::set<std::string> fallbacks = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                                   "Katmai",   "Coppermine", "Northwood", "Banias", "Atom"};
  if (!fallbacks.count(blas_core_name())) return "";
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

void reexec_with_fast_blas(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user's choice, or our re-exec already happened
  const char* off = std::getenv("SOZAI_BLAS_REEXEC");
  if (off && std::strcmp(off, "0") == 0) return;
  const std::string core = blas_core_suggestion();
  if (core.empty()) return;
  setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // exec failed: carry on with the slow kernels
}

int blas_num_threads() {
  static const auto get = reinterpret_cast<int (*)()>(blas_symbol("openblas_get_num_threads"));
  return get ? get() : 0;
}

namespace {
// Scopes may nest and overlap across threads (two campaigns asked at once):
// the first to open sets one thread, the last to close restores the count
// it found.
std::mutex single_blas_mutex;
int single_blas_open = 0;
int single_blas_saved = 1;
}  // namespace

ScopedSingleThreadBlas::ScopedSingleThreadBlas(bool active) {
  if (!active) return;
  // Looked up once (a scope opens on every ask and GP fit).
  static const auto set = reinterpret_cast<void (*)(int)>(blas_symbol("openblas_set_num_threads"));
  if (!set || blas_num_threads() == 0) return;
  set_ = set;
  std::lock_guard<std::mutex> lock(single_blas_mutex);
  if (single_blas_open++ == 0) {
    single_blas_saved = blas_num_threads();
    if (single_blas_saved != 1) set_(1);
  }
}

ScopedSingleThreadBlas::~ScopedSingleThreadBlas() {
  if (!set_) return;
  std::lock_guard<std::mutex> lock(single_blas_mutex);
  if (--single_blas_open == 0 && single_blas_saved != 1) set_(single_blas_saved);
}

}  // namespace sozai
