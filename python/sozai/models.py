"""Surrogate models: numpy arrays or pandas frames in, numpy arrays out
(DataFrames with ``as_frame=True``; see :mod:`sozai.frames`)."""

import numpy as np

from . import frames as _f

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
PosteriorBound = _m.PosteriorBound
MultiTaskGP = _m.MultiTaskGP
load = _m.load



# ---------------------------------------------------------------- pandas in and out

def _frame_fit(cls, method):
    """cls.method(X, y, ...) also taking a DataFrame X and a Series y (or the name of a column of X)."""
    orig = getattr(cls, method)
    where = f"{cls.__name__}.{method}"

    def fit(self, X, y, *args, **kwargs):
        y, X = _f.targets(y, where, X)
        return orig(self, _f.table(X, where)[0], y, *args, **kwargs)

    fit.__name__ = method
    fit.__doc__ = (orig.__doc__ or "") + ("\n\nX: an array [n, d] or a DataFrame (its columns in order); y: an array, a "
                                        "Series or the name of a column of X.")
    setattr(cls, method, fit)


def _frame_posterior(cls, method):
    """cls.method(X) -> (mean, variance), or with as_frame=True a DataFrame of X's columns, mean and std."""
    orig = getattr(cls, method)
    where = f"{cls.__name__}.{method}"

    def posterior(self, X, as_frame=False):
        A, columns, index = _f.table(X, where)
        mean, var = orig(self, A)
        if not as_frame:
            return mean, var
        return _f.predictions(columns, A, index, mean, var)

    posterior.__name__ = method
    posterior.__doc__ = (orig.__doc__ or "") + ("\n\nX: an array [n, d] or a DataFrame. as_frame=True: a DataFrame of "
                                                "the inputs, 'mean' and 'std', indexed as X.")
    setattr(cls, method, posterior)


for _cls, _fits, _posteriors in ((ExactGP, ("fit", "set_data"), ("posterior", "latent_posterior")),
                                 (RandomForest, ("fit",), ("posterior",)),
                                 (MultiTaskGP, ("fit",), ("posterior", "latent_posterior"))):
    for _name in _fits:
        _frame_fit(_cls, _name)
    for _name in _posteriors:
        _frame_posterior(_cls, _name)


def _gnn_inputs(model, inputs, conditions, where):
    """(texts or GraphBatch, conditions, leading frame columns, index) of a GnnEnsemble's inputs: a list, a Series
    of texts, or a DataFrame (a composition model reads element columns as each row's formula, the other numeric
    columns as its conditions; otherwise one text column, the rest conditions)."""
    if _f.is_series(inputs):
        return _f.strings(inputs, where), conditions, {inputs.name or "input": list(inputs)}, inputs.index
    if _f.is_frame(inputs):
        from ._sozai import campaign as _campaign
        columns = [str(c) for c in inputs.columns]
        text = [c for c in inputs.columns if inputs[c].dtype == object]
        if model.kind == "composition" and not text:
            A = _f.to_array(inputs, where)
            formulas = _campaign.element_formulas(A, columns)
            rest = [j for j, c in enumerate(columns) if not _is_element_column(c)]
            if conditions is None and rest:
                conditions = A[:, rest]
            return formulas, conditions, {"formula": formulas}, inputs.index
        if len(text) != 1:
            raise _f.InputError(f"{where}: a DataFrame of inputs needs one text column (SMILES, formulas or "
                                f"structures){'' if not text else ', got ' + ', '.join(map(repr, text))}")
        texts = _f.strings(inputs[text[0]], where)
        others = inputs.drop(columns=text)
        if conditions is None and others.shape[1]:
            conditions = _f.to_array(others, where)
        return texts, conditions, {text[0]: texts}, inputs.index
    return inputs, conditions, None, None


def _is_element_column(name):
    from ._sozai import campaign as _campaign
    return bool(_campaign.element_of_column(name))


def _gnn_frames():
    orig_fit, orig_predict = GnnEnsemble.fit, GnnEnsemble.predict

    def fit(self, inputs, y, conditions=None):
        if _f.is_frame(inputs) or _f.is_series(inputs):
            y, inputs = _f.targets(y, "GnnEnsemble.fit", inputs)
        texts, conds, _, _ = _gnn_inputs(self, inputs, conditions, "GnnEnsemble.fit")
        return orig_fit(self, texts, y, None if conds is None else _f.to_array(conds, "GnnEnsemble.fit: conditions"))

    def predict(self, inputs, conditions=None, member=None, as_frame=False):
        texts, conds, lead, index = _gnn_inputs(self, inputs, conditions, "GnnEnsemble.predict")
        conds = None if conds is None else _f.to_array(conds, "GnnEnsemble.predict: conditions")
        mean, var = orig_predict(self, texts, conds, member)
        if not as_frame:
            return mean, var
        if lead is None:
            lead = {"input": list(texts)} if not hasattr(texts, "num_graphs") else {}
        extra = dict(lead)
        if conds is not None:
            for j in range(conds.shape[1]):
                extra[f"condition{j}"] = conds[:, j]
        return _f.predictions([], np.zeros((len(mean), 0)), index, mean, var, extra=extra)

    fit.__doc__ = (orig_fit.__doc__ or "") + ("\n\ninputs: also a Series of texts, or a DataFrame (a composition model "
                                            "takes element columns as formulas, other numeric columns as conditions); "
                                            "y: also a Series or the name of a column of the inputs frame.")
    predict.__doc__ = (orig_predict.__doc__ or "") + ("\n\nas_frame=True: a DataFrame of the inputs, 'mean' and 'std' "
                                                    "indexed as the inputs.")
    GnnEnsemble.fit, GnnEnsemble.predict = fit, predict


_gnn_frames()

__all__ = ["ExactGP", "RandomForest", "GPHyperparameters", "yeo_johnson", "yeo_johnson_inverse", "fit_yeo_johnson_lambda", "GnnEnsemble", "PretrainedModel", "pretrain", "pretrained_models", "GPPathSampler", "PosteriorBound", "MultiTaskGP",
           "load"]
