#pragma once
/// What this build of sozai was compiled with, for bug reports and
/// `sozai --version` / `sozai.build_info()`.

#include <map>
#include <string>

namespace sozai {

/// Keys: version, torch, cuda ("none" when built without CUDA),
/// cuda_available ("yes"/"no": a device is usable now), torch_cuda
/// (LibTorch built with CUDA), rdkit, hdf5, mpi ("none" when off), blas_core
/// (the kernels OpenBLAS chose, see common/blas.h).
std::map<std::string, std::string> build_info();

/// Throws UnsupportedError naming the option to turn on when a feature
/// ("rdkit", "hdf5", "mpi", "cuda") was not compiled in.
void require_feature(const std::string& feature, const std::string& needed_by);

}  // namespace sozai
