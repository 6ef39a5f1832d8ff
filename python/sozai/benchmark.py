"""Replaying campaigns on real pools, and the metrics of Liang et al. (2021).

``pool_campaign`` and ``random_baseline`` return row indices in the order
they were chosen; ``top_fraction_curve``, ``enhancement_factor`` and
``acceleration_factor`` compute Top%, EF and AF exactly as defined in
``shared/data/README.md``.
"""

import sys

import numpy as np

from . import frames as _frames
from ._sozai import benchmark as _c
from ._sozai import featurize as _featurize
from ._sozai import models as _models


def pool_campaign(X, y, maximize=None, budget=None, seed=0, surrogate="gp", acquisition="logei", q=1, n_init=2,
                  kind=None, columns=None, priors=None, transfer=None, **settings):
    """Runs a campaign over the rows of ``X`` with measured ``y`` as the oracle.

    Returns the row indices in the order they were chosen (the first ``n_init``
    random by ``seed``). ``surrogate``: "gp" or "random" on feature rows
    ``X`` [n, d]; "gnn" (a GnnEnsemble), "gnn-dkl" (a GP on its learned
    embedding) or "gp-pretrained" (a GP on a pretrained network's
    embedding, ``gnn={"pretrained": "composition-mp"}``) on materials:
    ``X`` is then a list of SMILES / CIF texts / formulas with ``kind``
    ("polymer", "crystal", "composition"), or a
    ``sozai.featurize.GraphBatch``; ``gnn={...}`` optionally sets n_members,
    hidden, layers, max_epochs, dkl_dims and pretrained (gnn and gnn-dkl
    then fine-tune it).

    ``acquisition``: any of ``sozai.bo.acquisition_names()``. The defaults
    (LogEI, ``n_init=2``) are the replay protocol that every closed-loop
    number in ``benchmarks/results`` follows (Liang et al. 2021); a
    campaign's own defaults are qLogNEI and ``n_init=4``. With several outcomes,
    ``y`` is [n, k] and ``outcomes`` says what each column is for
    ([{"direction": "maximize"}, {"direction": "at_most", "limit": 2.5}, ...];
    ``maximize`` is then left out), with an optional ``ref_point`` per
    objective. Every other keyword is a campaign setting
    (``sozai.campaign.campaign_settings``).

    ``priors``: ``sozai.campaign.Prior`` tables from earlier campaigns or
    related data that the model learns from; ``columns`` then names the
    columns of ``X`` (element symbols for element shares) and ``transfer``
    chooses how: "auto" (default), "rgpe", "residual", "mtgp" or "none", or
    a dict of transfer settings.

    >>> import numpy as np, sozai
    >>> X = np.linspace(0, 1, 50)[:, None]; y = -(X[:, 0] - 0.3) ** 2
    >>> order = sozai.benchmark.pool_campaign(X, y, True, budget=8)
    >>> len(order), len(set(order))
    (8, 8)
    """
    if budget is None:
        raise TypeError("pool_campaign: budget is required")
    settings["seed"] = int(seed)
    for key, value in (("surrogate", surrogate), ("acquisition", acquisition), ("n_init", n_init)):
        if value is not None:
            settings[key] = value
    Y = _frames.to_array(y, "pool_campaign: y")
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if surrogate in ("gnn", "gnn-dkl", "gp-pretrained"):
        graphs = X
        if not isinstance(X, _featurize.GraphBatch):
            if kind is None:
                raise ValueError("pool_campaign: surrogate '%s' on a list of inputs needs kind= (polymer, crystal "
                                 "or composition)" % surrogate)
            graphs = _models.GnnEnsemble(kind=kind, progress=False).featurize(list(_frames.strings(X, "pool_campaign")))
        if kind is not None:
            settings["gnn"] = dict(settings.get("gnn") or {})
            settings["gnn"].setdefault("kind", kind)
        return list(_c.pool_campaign(graphs, Y, int(budget), int(q), maximize, **settings))
    if _frames.is_frame(X) and columns is None:
        columns = [str(c) for c in X.columns]  # the names priors meet X by
    X = _frames.to_array(X, "pool_campaign: X")
    if X.ndim == 1:
        X = X[:, None]
    if transfer is not None:
        settings["transfer"] = {"method": transfer} if isinstance(transfer, str) else dict(transfer)
    return list(_c.pool_campaign(X, Y, int(budget), int(q), maximize, list(columns or []), list(priors or []),
                                 **settings))


def run_pool_benchmark(X, y, maximize, acquisitions=("logei", "ucb"), budget=0, seeds=20, random_seeds=0, q=1,
                       n_init=2, stop_when_all_found=True, progress=True):
    """Replays ``seeds`` campaigns per acquisition and random search on the pool (X, y).

    Returns a dict with ``pool_size``, ``budget``, ``top_required`` and ``arms``
    (random first), each with ``orders``, ``mean_top_fraction``,
    ``best_so_far_mean``, ``ef`` {i: EF(i)} at 10/25/50, ``af`` {t: AF(t)} at
    0.5/0.8, ``n_to_reach`` and ``seconds``. ``budget=0`` means the whole pool;
    ``random_seeds=0`` means max(seeds, 200). With ``progress`` a line per
    campaign goes to stderr, as from `sozai benchmark`.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)

    def report(arm, seed, total, secs):
        if progress:
            print(f"  [{arm}] seed {seed + 1}/{total} done in {secs:.1f} s", file=sys.stderr, flush=True)

    return _c.run_pool_benchmark(X, y, bool(maximize), list(acquisitions), int(budget), int(seeds),
                                 int(random_seeds), int(q), int(n_init), bool(stop_when_all_found), report)


def random_baseline(n, budget, seed=0):
    """The first ``budget`` rows of a seeded random permutation of ``n`` rows."""
    return list(_c.random_baseline(int(n), int(budget), int(seed)))


def top_set(y, maximize, fraction=0.05):
    """(member mask, required count) of the top ``fraction`` of ``y``."""
    t = _c.top_set(np.asarray(y, dtype=np.float64).reshape(-1).tolist(), bool(maximize), float(fraction))
    return np.asarray(t.member, dtype=bool), int(t.required)


def top_fraction_curve(order, y, maximize, fraction=0.05):
    """Top%(i): fraction of the top set found after i = 1..len(order) experiments."""
    t = _c.top_set(np.asarray(y, dtype=np.float64).reshape(-1).tolist(), bool(maximize), float(fraction))
    return np.asarray(_c.top_fraction_curve([int(i) for i in order], t))


def mean_curve(curves, length=0):
    """Mean of Top% curves; shorter ones are held at their last value."""
    return np.asarray(_c.mean_curve([list(map(float, c)) for c in curves], int(length)))


def experiments_to_reach(curve, target):
    """First experiment count at which ``curve`` reaches ``target`` (-1 if never)."""
    return _c.experiments_to_reach(list(map(float, curve)), float(target))


def enhancement_factor(bo_curves, random_curves, i):
    """EF(i) = mean Top%_BO(i) / mean Top%_random(i) (i is 1-based)."""
    return _c.enhancement_factor(list(mean_curve(bo_curves)), list(mean_curve(random_curves)), int(i))


def acceleration_factor(bo_curves, random_curves, target):
    """AF(t) = n_random(t) / n_BO(t) on the mean curves; NaN if either never reaches t."""
    return _c.acceleration_factor(list(mean_curve(bo_curves)), list(mean_curve(random_curves)), float(target))


__all__ = ["pool_campaign", "run_pool_benchmark", "random_baseline", "top_set", "top_fraction_curve", "mean_curve",
           "experiments_to_reach", "enhancement_factor", "acceleration_factor"]
