"""Surrogate models (numpy in, numpy out)."""

from ._sozai import models as _m

ExactGP = _m.ExactGP
GPHyperparameters = _m.GPHyperparameters
yeo_johnson = _m.yeo_johnson
yeo_johnson_inverse = _m.yeo_johnson_inverse
fit_yeo_johnson_lambda = _m.fit_yeo_johnson_lambda
GnnEnsemble = _m.GnnEnsemble
GPPathSampler = _m.GPPathSampler
MultiTaskGP = _m.MultiTaskGP
load = _m.load

__all__ = ["ExactGP", "GPHyperparameters", "yeo_johnson", "yeo_johnson_inverse", "fit_yeo_johnson_lambda", "GnnEnsemble", "GPPathSampler", "MultiTaskGP",
           "load"]
