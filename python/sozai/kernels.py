"""Hot operations with a CPU reference and a CUDA implementation."""

from ._sozai import kernels as _k

analytic_acquisition = _k.analytic_acquisition
acquisition_topk = _k.acquisition_topk
RunningTopK = _k.RunningTopK
segment_sum = _k.segment_sum
segment_mean = _k.segment_mean
segment_max = _k.segment_max
scatter_sum = _k.scatter_sum
scatter_mean = _k.scatter_mean
scatter_max = _k.scatter_max
neighbor_list = _k.neighbor_list
kernel_matrix = _k.kernel_matrix
pack_bits = _k.pack_bits
tanimoto = _k.tanimoto

__all__ = ["analytic_acquisition", "acquisition_topk", "RunningTopK", "segment_sum", "segment_mean",
           "segment_max", "scatter_sum", "scatter_mean", "scatter_max",
           "neighbor_list",
           "kernel_matrix", "pack_bits", "tanimoto"]
