"""Surrogate models (numpy in, numpy out)."""

from ._sozai import models as _m

ExactGP = _m.ExactGP
GPHyperparameters = _m.GPHyperparameters

__all__ = ["ExactGP", "GPHyperparameters"]
