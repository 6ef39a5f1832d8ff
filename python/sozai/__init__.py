"""sozai: GPU-accelerated, AI-driven materials discovery engine.

The heavy lifting is in the C++ core (``_sozai``); this package exposes it
with numpy arrays (or pandas DataFrames, see sozai.frames) in and out, under
the same names as the C++ API:

>>> import sozai
>>> sozai.build_info()["torch"]  # doctest: +SKIP
'1.13.0'
"""

from . import _blas

_blas.configure()  # before LibTorch loads OpenBLAS: its generic kernels on unknown CPUs are 3x slower

from . import _sozai  # noqa: E402
from ._sozai import (  # noqa: F401,E402  (re-exported)
    DeviceError,
    FittingError,
    InputError,
    SozaiError,
    StorageError,
    UnsupportedError,
    build_info,
    require_feature,
)
from . import benchmark, bo, campaign, datasets, featurize, federated, frames, kernels, lab, models, spaces  # noqa: F401,E402,E501
from .screening import ScreenResult, read_screen, screen, screen_merge  # noqa: F401,E402

__version__ = build_info()["version"]

__all__ = [
    "SozaiError", "InputError", "UnsupportedError", "FittingError", "StorageError", "DeviceError",
    "build_info", "require_feature", "screen", "screen_merge", "read_screen", "ScreenResult", "benchmark", "bo", "campaign", "datasets", "federated", "frames", "kernels", "models",
]
