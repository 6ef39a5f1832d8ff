
#include "common/blas.h"
#include "common/build_info.h"
#include "common/error.h"
#include <dlfcn.h>
#include <future>
#include <memory>
#include <thread>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

TEST_CASE("build_info reports every dependency", "[common]") {
  auto info = sozai::build_info();
  for (const char* key : {"version", "torch", "cuda", "torch_cuda", "cuda_available", "rdkit", "hdf5", "mpi", "blas_core"}) {
    INFO(key);
    CHECK(info.count(key) == 1);
    CHECK(!info[key].empty());
  }
  const bool known_torch = info["torch"].rfind("1.", 0) == 0 || info["torch"].rfind("2.", 0) == 0;
  CHECK(known_torch);
}

TEST_CASE("require_feature names the CMake option", "[common]") {
  CHECK_THROWS_AS(sozai::require_feature("quantum", "x"), sozai::InputError);
#ifndef SOZAI_WITH_MPI
  CHECK_THROWS_WITH(sozai::require_feature("mpi", "sharded screening"), Catch::Contains("SOZAI_WITH_MPI"));
#else
  CHECK_NOTHROW(sozai::require_feature("mpi", "sharded screening"));
#endif
}

TEST_CASE("blas_core_suggestion only replaces OpenBLAS's generic fallback kernels", "[common]") {
  const std::string core = sozai::blas_core_name();
  const std::string fix = sozai::blas_core_suggestion();
  CHECK(sozai::build_info()["blas_core"] == (core.empty() ? "not OpenBLAS" : core));
  // A suggestion exists only for a generic core, and names a core OpenBLAS knows.
  if (!fix.empty()) {
    CHECK((core == "Prescott" || core == "Core2" || core == "Nehalem" || core == "Penryn" || core == "Atom" ||
           core == "Dunnington" || core == "Katmai" || core == "Coppermine" || core == "Northwood" ||
           core == "Banias"));
    CHECK((fix == "SkylakeX" || fix == "Haswell"));
  }
  if (core == "SkylakeX" || core == "Haswell" || core == "Zen" || core == "Cooperlake") CHECK(fix.empty());
}

TEST_CASE("single-thread BLAS scopes nest and overlap across threads; the last to close restores the count",
          "[common]") {
  if (sozai::blas_num_threads() == 0) {  // another BLAS: the scopes do nothing
    sozai::ScopedSingleThreadBlas scope(true);
    CHECK(sozai::blas_num_threads() == 0);
    return;
  }
  // Start from 2 threads (the environment may have set 1), put back at the end.
  auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  REQUIRE(set != nullptr);
  const int outside = sozai::blas_num_threads();
  set(2);
  REQUIRE(sozai::blas_num_threads() == 2);
  {
    sozai::ScopedSingleThreadBlas inactive(false);
    CHECK(sozai::blas_num_threads() == 2);
  }
  {
    auto a = std::make_unique<sozai::ScopedSingleThreadBlas>(true);
    CHECK(sozai::blas_num_threads() == 1);
    {
      sozai::ScopedSingleThreadBlas nested(true);
      CHECK(sozai::blas_num_threads() == 1);
    }
    CHECK(sozai::blas_num_threads() == 1);  // a is still open
    // Another thread's scope outlives a: it must not be left at 2, nor end at 1.
    std::promise<void> opened, close;
    std::thread other([&] {
      sozai::ScopedSingleThreadBlas b(true);
      opened.set_value();
      close.get_future().wait();
    });
    opened.get_future().wait();
    a.reset();
    CHECK(sozai::blas_num_threads() == 1);
    close.set_value();
    other.join();
  }
  CHECK(sozai::blas_num_threads() == 2);
  set(outside);
}
