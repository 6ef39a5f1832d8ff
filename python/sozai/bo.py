"""Acquisition functions and the optimisers that choose with them.

Every acquisition is chosen by name from one registry (``acquisition_names()``,
``acquisition_info(name)``), built on fitted models by ``make_acquisition``
and handed to one of two optimisers: ``select_from_pool`` (the rows of a
finite pool) or ``select_in_space`` (a continuous or mixed ``DesignSpace``).
The acquisition decides how a batch grows: Kriging believer (ei, logei, ucb,
pi, aei), joint Monte-Carlo samples (qlognei, qucb, qnehvi, qlognehvi,
qparego) or one sample path per pick (thompson).

>>> import numpy as np, sozai
>>> X = np.random.default_rng(0).uniform(size=(50, 2)); y = np.sin(4 * X[:, 0])
>>> gp = sozai.models.ExactGP(restarts=2); gp.fit(X[:8], y[:8])
>>> acq = sozai.bo.make_acquisition([gp], X[:8], y[:8], acquisition="qlognei", seed=0)
>>> available = np.ones(50, dtype=bool); available[:8] = False
>>> rows = sozai.bo.select_from_pool(acq, X, available, q=3)
>>> len(set(rows)), all(r >= 8 for r in rows)
(3, True)

``acquisition``, ``mc_acquisition`` and ``log_augmented_ei`` value candidates
directly. The pool and space selectors of earlier versions
(``select_batch_from_pool``, ``select_batch_mc``, ``select_batch_thompson``,
``select_batch_multi``, ``select_batch_multi_fidelity``,
``select_batch_in_space``) remain as deprecated aliases built on
``make_acquisition`` and the two optimisers, because the README documented
them; they accept the old text outcomes ("max", "<= 2.5").
"""

import warnings

import numpy as np

from . import frames as _frames
from ._sozai import InputError
from ._sozai import bo as _bo

acquisition_names = _bo.acquisition_names
acquisition_info = _bo.acquisition_info
acquisition_registry = _bo.acquisition_registry
Acquisition = _bo.Acquisition
make_acquisition = _bo.make_acquisition
select_from_pool = _bo.select_from_pool
select_in_space = _bo.select_in_space
best_latent_value = _bo.best_latent_value
normal_base_samples = _bo.normal_base_samples
prune_baseline = _bo.prune_baseline
project_to_space = _bo.project_to_space
non_dominated_mask = _bo.non_dominated_mask
hypervolume = _bo.hypervolume
hypervolume_improvement = _bo.hypervolume_improvement
infer_reference_point = _bo.infer_reference_point


def _array(a, ndim=None, where="table"):
    a = _frames.to_array(a, where)
    if ndim == 2 and a.ndim == 1:
        a = a[:, None]
    return a


def _direction(maximize):
    return [{"direction": "maximize" if maximize else "minimize"}]


def acquisition(model, X, kind="logei", best_f=0.0, maximize=True, beta=4.0, as_frame=False):
    """Analytic acquisition (ei, logei, ucb, pi) of a fitted model at X [n, d] (an array or a DataFrame); best_f in
    the latent space. as_frame=True: a DataFrame of X's columns, the model's 'mean' and 'std' and 'acquisition',
    indexed as X."""
    A, columns, index = _frames.table(X, "acquisition")
    A = _array(A, 2)
    acq = _bo.make_acquisition([model], A[:0], acquisition=kind, best_f=float(best_f), outcomes=_direction(maximize),
                               ucb_beta=float(beta))
    values = acq(A[:, None, :])
    if not as_frame:
        return values
    mean, var = model.posterior(A)
    return _frames.predictions(columns, A, index, mean, var, values)


def mc_acquisition(model, X, X_baseline, kind="qlognei", maximize=True, samples=128, seed=0, beta=4.0, X_pending=None):
    """Monte-Carlo acquisition (qlognei, qucb) of q-batches X [b, q, d] -> [b]; qlognei improves on X_baseline."""
    if str(kind).lower() not in ("qlognei", "qlognoisyei", "qucb"):
        raise InputError(f"mc_acquisition: unknown Monte-Carlo acquisition '{kind}'; expected qlognei or qucb")
    acq = _bo.make_acquisition([model], _array(X_baseline, 2), None, None if X_pending is None else _array(X_pending, 2),
                               acquisition=kind, outcomes=_direction(maximize), mc_samples=int(samples), seed=int(seed),
                               ucb_beta=float(beta))
    return acq(np.asarray(X, dtype=np.float64))


def log_augmented_ei(model, candidates, X_observed, costs, target=-1, maximize=True):
    """log augmented EI (Huang et al. 2006) of candidates [n, d + 1] (fidelity last) on a MultiTaskGP."""
    acq = _bo.make_acquisition([model], _array(X_observed, 2), acquisition="aei", outcomes=_direction(maximize),
                               fidelity_costs=[float(c) for c in costs], target_fidelity=int(target))
    return acq(_array(candidates, 2)[:, None, :])


# ---------------------------------------------------------------- deprecated aliases

def _deprecated(name, instead):
    warnings.warn(f"sozai.bo.{name} is deprecated: use {instead}", DeprecationWarning, stacklevel=3)


def _legacy_outcomes(outcomes):
    """The old text outcomes ("max", "min", "<= b", ">= b") as outcome dicts; dicts pass through."""
    out = []
    for i, o in enumerate(outcomes):
        if isinstance(o, dict):
            out.append(o)
            continue
        t = str(o).replace(" ", "").lower()
        if t in ("max", "maximize"):
            out.append({"direction": "maximize"})
        elif t in ("min", "minimize"):
            out.append({"direction": "minimize"})
        elif t[:2] in ("<=", ">="):
            try:
                limit = float(t[2:])
            except ValueError:
                raise InputError(f"outcome {i}: '{o}' is not an outcome; expected max, min, '<= bound' or '>= bound'")
            out.append({"direction": "at_most" if t[0] == "<" else "at_least", "limit": limit})
        else:
            raise InputError(f"outcome {i}: '{o}' is not an outcome; expected max, min, '<= bound' or '>= bound'")
    return out


def _pool(candidates, available, pending):
    C = _array(candidates, 2)
    avail = np.array(available, dtype=bool).reshape(-1)
    if avail.shape[0] != C.shape[0]:
        raise InputError(f"available must be a bool array of length {C.shape[0]}")
    pending = [int(p) for p in pending]
    for p in pending:
        if not 0 <= p < C.shape[0]:
            raise InputError(f"pending row {p} is outside the pool of {C.shape[0]}")
    avail[pending] = False
    return C, avail, (C[pending] if pending else None)


def select_batch_from_pool(model, candidates, available, q, kind="logei", best_f=0.0, maximize=True, beta=4.0,
                           pending=()):
    """Deprecated: make_acquisition(..., acquisition=kind, best_f=...) and select_from_pool."""
    _deprecated("select_batch_from_pool", "make_acquisition and select_from_pool")
    C, avail, P = _pool(candidates, available, pending)
    acq = _bo.make_acquisition([model], C[:0], None, P, acquisition=kind, best_f=float(best_f),
                               outcomes=_direction(maximize), ucb_beta=float(beta))
    return np.asarray(_bo.select_from_pool(acq, C, avail, int(q)), dtype=np.int64)


def select_batch_mc(model, candidates, available, q, X_baseline, kind="qlognei", maximize=True, samples=128, seed=0,
                    beta=4.0, pending=()):
    """Deprecated: make_acquisition(..., acquisition='qlognei' or 'qucb') and select_from_pool."""
    _deprecated("select_batch_mc", "make_acquisition and select_from_pool")
    C, avail, P = _pool(candidates, available, pending)
    acq = _bo.make_acquisition([model], _array(X_baseline, 2), None, P, acquisition=kind,
                               outcomes=_direction(maximize), mc_samples=int(samples), seed=int(seed),
                               ucb_beta=float(beta))
    return np.asarray(_bo.select_from_pool(acq, C, avail, int(q)), dtype=np.int64)


def select_batch_thompson(model, candidates, available, q, maximize=True, seed=0, features=1024, chunk=16384,
                          pending=()):
    """Deprecated: make_acquisition(..., acquisition='thompson') and select_from_pool."""
    _deprecated("select_batch_thompson", "make_acquisition and select_from_pool")
    C, avail, P = _pool(candidates, available, pending)
    acq = _bo.make_acquisition([model], C[:0], None, P, acquisition="thompson", outcomes=_direction(maximize),
                               seed=int(seed), sampling={"path_features": int(features), "chunk": int(chunk)})
    return np.asarray(_bo.select_from_pool(acq, C, avail, int(q)), dtype=np.int64)


def select_batch_multi(models, candidates, available, q, X_observed, Y_observed, outcomes, acquisition="qlognehvi",
                       ref_point=(), samples=128, seed=0, pending=()):
    """Deprecated: make_acquisition(..., outcomes=[...]) and select_from_pool."""
    _deprecated("select_batch_multi", "make_acquisition and select_from_pool")
    C, avail, P = _pool(candidates, available, pending)
    acq = _bo.make_acquisition(list(models), _array(X_observed, 2), _array(Y_observed, 2), P, acquisition=acquisition,
                               outcomes=_legacy_outcomes(outcomes), ref_point=[float(r) for r in ref_point],
                               mc_samples=int(samples), seed=int(seed))
    return np.asarray(_bo.select_from_pool(acq, C, avail, int(q)), dtype=np.int64)


def select_batch_multi_fidelity(model, candidates, available, q, X_observed, costs, target=-1, maximize=True,
                                pending=(), target_first=True, max_cheap_share=0.5):
    """Deprecated: make_acquisition(..., acquisition='aei', fidelity_costs=...) and select_from_pool."""
    _deprecated("select_batch_multi_fidelity", "make_acquisition and select_from_pool")
    C, avail, P = _pool(candidates, available, pending)
    acq = _bo.make_acquisition([model], _array(X_observed, 2), None, P, acquisition="aei",
                               outcomes=_direction(maximize), fidelity_costs=[float(c) for c in costs],
                               target_fidelity=int(target), aei_target_first=bool(target_first),
                               aei_max_cheap_share=float(max_cheap_share))
    return np.asarray(_bo.select_from_pool(acq, C, avail, int(q)), dtype=np.int64)


def select_batch_in_space(space, models, X_observed, Y_observed, q=1, acquisition="logei", outcomes=(), ref_point=(),
                          pending=None, mc_samples=128, seed=0, beta=4.0, restarts=8, raw_samples=256, max_iter=100,
                          maximize=True):
    """Deprecated: make_acquisition on space.encode(...) and select_in_space. X_observed, pending: raw candidates."""
    _deprecated("select_batch_in_space", "make_acquisition and select_in_space")
    X = space.encode(_array(X_observed, 2))
    P = None if pending is None or len(pending) == 0 else space.encode(_array(pending, 2))
    outs = _legacy_outcomes(outcomes) if len(outcomes) > 0 else _direction(maximize)
    acq = _bo.make_acquisition(list(models), X, _array(Y_observed, 2), P, acquisition=acquisition, outcomes=outs,
                               ref_point=[float(r) for r in ref_point], mc_samples=int(mc_samples), seed=int(seed),
                               ucb_beta=float(beta))
    return _bo.select_in_space(space, acq, int(q), {"restarts": int(restarts), "raw_samples": int(raw_samples),
                                                    "max_iter": int(max_iter)}, int(seed))


__all__ = ["acquisition_names", "acquisition_info", "acquisition_registry", "Acquisition", "make_acquisition",
           "select_from_pool", "select_in_space", "acquisition", "mc_acquisition", "log_augmented_ei",
           "best_latent_value", "normal_base_samples", "prune_baseline", "project_to_space", "non_dominated_mask",
           "hypervolume", "hypervolume_improvement", "infer_reference_point", "select_batch_from_pool",
           "select_batch_mc", "select_batch_thompson", "select_batch_multi", "select_batch_multi_fidelity",
           "select_batch_in_space"]
