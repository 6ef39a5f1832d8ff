#include "common/build_info.h"

#include "common/blas.h"
#include "common/error.h"

#include <torch/cuda.h>
#include <torch/version.h>

#ifdef SOZAI_WITH_RDKIT
#include <RDGeneral/versions.h>
#endif
#ifdef SOZAI_WITH_HDF5
#include <hdf5.h>
#endif
#ifdef SOZAI_WITH_MPI
#include <mpi.h>
#endif

namespace sozai {

namespace {
bool compiled_in(const std::string& feature) {
  if (feature == "rdkit") {
#ifdef SOZAI_WITH_RDKIT
    return true;
#endif
  } else if (feature == "hdf5") {
#ifdef SOZAI_WITH_HDF5
    return true;
#endif
  } else if (feature == "mpi") {
#ifdef SOZAI_WITH_MPI
    return true;
#endif
  } else if (feature == "cuda") {
#ifdef SOZAI_WITH_CUDA
    return true;
#endif
  } else {
    throw InputError(str("unknown feature '", feature, "'; expected rdkit, hdf5, mpi or cuda"));
  }
  return false;
}
}  // namespace

std::map<std::string, std::string> build_info() {
  std::map<std::string, std::string> info;
  info["version"] = SOZAI_VERSION;
  info["blas_core"] = blas_core_name().empty() ? "not OpenBLAS" : blas_core_name();
  info["torch"] = str(TORCH_VERSION_MAJOR, ".", TORCH_VERSION_MINOR, ".", TORCH_VERSION_PATCH);
#ifdef SOZAI_WITH_CUDA
  info["cuda"] = SOZAI_CUDA_VERSION;
#else
  info["cuda"] = "none";
#endif
#ifdef SOZAI_TORCH_HAS_CUDA
  info["torch_cuda"] = "yes";
#else
  info["torch_cuda"] = "no";
#endif
  info["cuda_available"] = torch::cuda::is_available() ? "yes" : "no";
#ifdef SOZAI_WITH_RDKIT
  info["rdkit"] = RDKit::rdkitVersion;
#else
  info["rdkit"] = "none";
#endif
#ifdef SOZAI_WITH_HDF5
  info["hdf5"] = str(H5_VERS_MAJOR, ".", H5_VERS_MINOR, ".", H5_VERS_RELEASE);
#else
  info["hdf5"] = "none";
#endif
#ifdef SOZAI_WITH_MPI
#if defined(OMPI_MAJOR_VERSION)
  info["mpi"] = str("Open MPI ", OMPI_MAJOR_VERSION, ".", OMPI_MINOR_VERSION, ".", OMPI_RELEASE_VERSION,
                    " (MPI ", MPI_VERSION, ".", MPI_SUBVERSION, ")");
#else
  info["mpi"] = str("MPI ", MPI_VERSION, ".", MPI_SUBVERSION);
#endif
#else
  info["mpi"] = "none";
#endif
  return info;
}

void require_feature(const std::string& feature, const std::string& needed_by) {
  if (!compiled_in(feature)) {
    std::string option = feature == "rdkit" ? "SOZAI_WITH_RDKIT"
                         : feature == "hdf5" ? "SOZAI_WITH_HDF5"
                         : feature == "mpi"  ? "SOZAI_WITH_MPI"
                                             : "SOZAI_WITH_CUDA";
    throw UnsupportedError(str(needed_by, " needs ", feature, ", but this build of sozai was configured with ",
                               option, "=OFF; rebuild with -D", option, "=ON"));
  }
}

}  // namespace sozai
