
#include "common/build_info.h"
#include "common/error.h"
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

TEST_CASE("build_info reports every dependency", "[common]") {
  auto info = sozai::build_info();
  for (const char* key : {"version", "torch", "cuda", "torch_cuda", "cuda_available", "rdkit", "hdf5", "mpi"}) {
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
