"""Surrogate models (numpy in, numpy out)."""

from ._sozai import models as _m

ExactGP = _m.ExactGP
RandomForest = _m.RandomForest
GPHyperparameters = _m.GPHyperparameters
yeo_johnson = _m.yeo_johnson
yeo_johnson_inverse = _m.yeo_johnson_inverse
fit_yeo_johnson_lambda = _m.fit_yeo_johnson_lambda
GnnEnsemble = _m.GnnEnsemble
PretrainedModel = _m.PretrainedModel
pretrain = _m.pretrain
pretrained_models = _m.pretrained_models


def _from_pretrained(name, **kwargs):
    """An ensemble whose members start from a pretrained network.

    ``name``: a shipped model ("composition-mp"; its SHA-256 is verified,
    no network access) or a file written by :func:`pretrain`. Keyword
    arguments are those of :class:`GnnEnsemble` (``n_members``, ``seed``,
    training settings) plus the fine-tuning options ``head`` ("new" or a
    pretrained task such as "mp_gap"), ``freeze_epochs`` and
    ``trunk_lr_scale``; the architecture comes from the pretrained model.
    ``stopping="auto"`` uses cross-validated stopping ("folds").

    >>> m = GnnEnsemble.from_pretrained("composition-mp", n_members=5, seed=0)  # doctest: +SKIP
    >>> m.fit(formulas, y); mean, var = m.predict(formulas)  # doctest: +SKIP
    """
    if "pretrained" in kwargs or "kind" in kwargs:
        raise TypeError("from_pretrained: the model name gives the kind and the pretrained network")
    # The C++ side loads the model once and takes the kind from it.
    return GnnEnsemble(kind="", pretrained=name, **kwargs)


GnnEnsemble.from_pretrained = staticmethod(_from_pretrained)
GPPathSampler = _m.GPPathSampler
MultiTaskGP = _m.MultiTaskGP
load = _m.load

__all__ = ["ExactGP", "RandomForest", "GPHyperparameters", "yeo_johnson", "yeo_johnson_inverse", "fit_yeo_johnson_lambda", "GnnEnsemble", "PretrainedModel", "pretrain", "pretrained_models", "GPPathSampler", "MultiTaskGP",
           "load"]
