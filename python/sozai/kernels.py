"""Hot operations with a CPU reference and a CUDA implementation."""

from ._sozai import kernels as _k

analytic_acquisition = _k.analytic_acquisition

__all__ = ["analytic_acquisition"]
