#pragma once
/// One checked-call macro for the CUDA runtime: throws sozai::DeviceError
/// (never aborts: an abort would kill the user's notebook).

#include <cuda_runtime.h>

#include "common/error.h"

#define SOZAI_CUDA_CHECK(expr)                                                              \
  do {                                                                                      \
    cudaError_t _sozai_err = (expr);                                                        \
    if (_sozai_err != cudaSuccess)                                                          \
      throw ::sozai::DeviceError(::sozai::str("CUDA error '", cudaGetErrorString(_sozai_err), \
                                              "' in ", #expr, " at ", __FILE__, ":", __LINE__)); \
  } while (0)

/// Checks the last launch on this thread.
#define SOZAI_CUDA_CHECK_LAUNCH() SOZAI_CUDA_CHECK(cudaGetLastError())
