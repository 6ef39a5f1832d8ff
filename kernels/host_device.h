#pragma once
/// SOZAI_HOST_DEVICE marks the inline numerics shared by the CPU and CUDA
/// implementations of a kernel (the *_impl.h headers).

#if defined(__CUDACC__)
#define SOZAI_HOST_DEVICE __host__ __device__
#else
#define SOZAI_HOST_DEVICE
#endif
