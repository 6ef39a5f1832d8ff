"""Materials in, graphs and features out: compositions, polymers, crystals.

Every name here is implemented in C++ (``datasets/``) and registered by its
featuriser in the extension's ``featurize`` submodule; this module re-exports
them all.
"""

from ._sozai import featurize as _f

globals().update({name: getattr(_f, name) for name in dir(_f) if not name.startswith("_")})
__all__ = sorted(name for name in dir(_f) if not name.startswith("_"))
