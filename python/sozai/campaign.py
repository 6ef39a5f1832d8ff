"""Campaigns: ask for the next experiments, tell results, save/load.

PoolCampaign chooses among the rows of a finite pool; SpaceCampaign
proposes new candidates in a continuous or mixed DesignSpace. Keyword
arguments are campaign settings, the same JSON keys as the command line's
``--settings`` and the lab service's campaign description;
``campaign_settings(**settings)`` shows them all with defaults filled in.

>>> import numpy as np, sozai
>>> X = np.linspace(0, 1, 30)[:, None]
>>> c = sozai.campaign.PoolCampaign(X, outcomes=[{"name": "y", "direction": "minimize"}], n_init=2, seed=1)
>>> rows = c.ask(2); c.tell(list(rows), [float((X[r, 0] - 0.3) ** 2) for r in rows])
>>> c.settings["acquisition"], len(c.pending)
('qlognei', 0)
"""

import numpy as np

from . import frames as _f
from ._sozai import InputError
from ._sozai import campaign as _c

PoolCampaign = _c.PoolCampaign
SpaceCampaign = _c.SpaceCampaign
Prior = _c.Prior
campaign_settings = _c.campaign_settings
natural_columns = _c.natural_columns
natural_table = _c.natural_table

element_formulas = _c.element_formulas
element_of_column = _c.element_of_column


# ---------------------------------------------------------------- pandas in and out

def _outcome_names(campaign):
    """Each outcome's column name: its name, else y (one outcome) or y0, y1, ..."""
    names = [o.get("name", "") for o in campaign.outcomes]
    if len(names) == 1:
        return [names[0] or "y"]
    return [n or f"y{j}" for j, n in enumerate(names)]


def _values(values, where):
    """Outcome values as a flat list (a Series or a DataFrame of outcome columns, row by row)."""
    if _f.is_frame(values) or _f.is_series(values):
        return [float(v) for v in np.asarray(_f.to_array(values, where)).reshape(-1)]
    return values


def _pool_init():
    orig = PoolCampaign.__init__

    def __init__(self, pool, *args, **kwargs):
        if _f.is_frame(pool):
            A, columns, index = _f.table(pool, "PoolCampaign", "pool")
            if not kwargs.get("columns"):
                kwargs["columns"] = columns
            orig(self, A, *args, **kwargs)
            self.index = index
        else:
            orig(self, pool, *args, **kwargs)

    __init__.__doc__ = orig.__doc__
    PoolCampaign.__init__ = __init__


def _pool_rows(campaign, indices, where):
    """Pool positions of indices: a pandas Index or Series holds labels of the frame the campaign was built from
    (campaign.index), anything else positions."""
    if not (_f.is_series(indices) or type(indices).__module__.startswith("pandas")):
        return indices
    labels = indices.to_numpy() if _f.is_series(indices) else np.asarray(indices)
    index = getattr(campaign, "index", None)
    if index is None:
        return [int(v) for v in labels]
    pos = index.get_indexer(labels)
    if (pos < 0).any():
        raise InputError(f"{where}: {_f._rows(list(labels[pos < 0]))} not in the pool's index")
    return [int(p) for p in pos]


def _pool_tell():
    orig = PoolCampaign.tell

    def tell(self, indices, values):
        rows = _pool_rows(self, indices, "PoolCampaign.tell")
        if np.ndim(rows) == 0:
            return orig(self, int(rows), float(np.asarray(_f.to_array(values, "PoolCampaign.tell: value")).reshape(())))
        return orig(self, [int(r) for r in rows], _values(values, "PoolCampaign.tell: values"))

    tell.__doc__ = ("tell(index, value) or tell(indices, values): results of pool rows. indices: positions, or a pandas "
                    "Index/Series of labels of the frame the campaign was built from; values: a list, array, Series, "
                    "or a DataFrame of the outcome columns.")
    PoolCampaign.tell = tell


def _described(campaign, d):
    """(mean, variance, acquisition) of an ask's picks; NaN where no model chose them (random or prior-ranked)."""
    if d["mean"] is not None:
        return d["mean"], d["variance"], d["acquisition"]
    n = len(d["X"])
    return np.full((n, campaign.num_outcomes), np.nan), np.full((n, campaign.num_outcomes), np.nan), np.full(n, np.nan)


def _frame_of(campaign, X, labels, described=None, outcomes=None):
    columns = list(campaign.columns) or [f"x{j}" for j in range(X.shape[1])]
    mean, var, acq = _described(campaign, described) if described is not None else (None, None, None)
    out = _f.predictions(columns, X, labels, mean, var, acq, _outcome_names(campaign))
    if outcomes is not None:
        for j, name in enumerate(_outcome_names(campaign)):
            out[name] = outcomes[:, j]
    return out


def _pool_labels(campaign, rows):
    index = getattr(campaign, "index", None)
    return index[np.asarray(rows, dtype=np.int64)] if index is not None else _f._pandas().Index(rows)


def _pool_frames():
    def ask_frame(self, q=1):
        """Proposes q pool rows (marked pending) as a DataFrame indexed by the pool frame's labels (row positions for
        an array pool): the input columns, then each outcome's predicted 'mean' and 'std' and the 'acquisition' value
        (NaN for random or prior-ranked picks: no model chose them)."""
        d = self.ask_described(q)
        return _frame_of(self, d["X"], _pool_labels(self, d["rows"]), d)

    def observed_frame(self):
        """Every told result: the input columns and the outcomes, indexed by the pool frame's labels."""
        rows = self.observed_indices
        return _frame_of(self, self.pool[rows], _pool_labels(self, rows), outcomes=self.observed_outcomes)

    PoolCampaign.ask_frame = ask_frame
    PoolCampaign.observed_frame = observed_frame


# SpaceCampaign: a frame column per raw value (elements by symbol, a choice by its label).

def _raw_layout(space):
    """(column name, parameter) of each raw value: a composition's elements by symbol (parameter.symbol when two
    compositions share one), every other parameter by its name."""
    counts = {}
    for p in space.parameters:
        for e in p.get("elements", []):
            counts[e] = counts.get(e, 0) + 1
    layout = []
    for p in space.parameters:
        if p["type"] == "composition":
            layout += [(e if counts[e] == 1 else f"{p['name']}.{e}", p) for e in p["elements"]]
        else:
            layout.append((p["name"], p))
    return layout


def _raw_to_frame(space, raw):
    raw = np.asarray(raw, dtype=np.float64).reshape(-1, space.raw_width)
    data = {}
    for j, (c, p) in enumerate(_raw_layout(space)):
        data[c] = [p["choices"][int(round(v))] for v in raw[:, j]] if "choices" in p else raw[:, j]
    return _f._pandas().DataFrame(data)


def _frame_to_raw(space, frame, where):
    layout = _raw_layout(space)
    missing = [c for c, _ in layout if c not in frame.columns]
    if missing:
        raise InputError(f"{where}: the frame lacks column(s) {', '.join(map(repr, missing))} of the design space "
                         f"(its columns: {', '.join(c for c, _ in layout)})")
    raw = np.empty((len(frame), len(layout)), dtype=np.float64)
    for j, (c, p) in enumerate(layout):
        if "choices" in p and frame[c].dtype == object:
            lookup = {label: i for i, label in enumerate(p["choices"])}
            bad = [(r, v) for r, v in zip(frame.index, frame[c]) if v not in lookup]
            if bad:
                raise InputError(f"{where}: column {c!r}, row {bad[0][0]!r}: {bad[0][1]!r} is not one of "
                                 f"{', '.join(p['choices'])}")
            raw[:, j] = [lookup[v] for v in frame[c]]
        else:
            raw[:, j] = _f.to_array(frame[c], where)
    return raw


def _space_frames():
    orig_tell = SpaceCampaign.tell

    def tell(self, candidates, values):
        if _f.is_frame(candidates):
            if isinstance(values, str) or (isinstance(values, (list, tuple)) and values and
                                           all(isinstance(v, str) for v in values)):
                names = [values] if isinstance(values, str) else list(values)
                values = candidates[names]
            candidates = _frame_to_raw(self.space, candidates, "SpaceCampaign.tell")
        V = _f.to_array(values, "SpaceCampaign.tell: values") if (_f.is_frame(values) or _f.is_series(values)) \
            else values
        return orig_tell(self, candidates, V)

    tell.__doc__ = (orig_tell.__doc__ or "") + ("\n\ncandidates: also a DataFrame with a column per raw value (a "
                                              "composition's elements by symbol, a choice by its label, as ask_frame "
                                              "gives); values: also a Series/DataFrame or the name(s) of outcome "
                                              "columns of that frame.")

    def ask_frame(self, q=1):
        """Proposes q candidates (marked pending) as a DataFrame: a column per raw value (elements by symbol, a
        choice by its label), then each outcome's predicted 'mean' and 'std' and the 'acquisition' value (NaN for
        random or prior-ranked picks)."""
        d = self.ask_described(q)
        out = _raw_to_frame(self.space, d["X"])
        pred = _f.predictions([], np.zeros((len(out), 0)), out.index, *_described(self, d), _outcome_names(self))
        return out.join(pred)

    def observed_frame(self):
        """Every told result: a column per raw value, then the outcomes."""
        out = _raw_to_frame(self.space, self.observed_candidates)
        Y = self.observed_outcomes
        for j, name in enumerate(_outcome_names(self)):
            out[name] = Y[:, j]
        return out

    SpaceCampaign.tell, SpaceCampaign.ask_frame, SpaceCampaign.observed_frame = tell, ask_frame, observed_frame


def _prior_init():
    orig = Prior.__init__

    def __init__(self, X, y, columns=None, maximize=True, name=""):
        y, X = _f.targets(y, "Prior", X)
        A, names, _ = _f.table(X, "Prior")
        if columns is None:
            if names is None:
                raise InputError("Prior: columns must name X's columns (or give X as a DataFrame)")
            columns = names
        orig(self, A, y, columns, maximize, name)

    __init__.__doc__ = (orig.__doc__ or "") + "\n\nX: also a DataFrame (its names are the columns); y: also a Series or " \
        "the name of a column of X."
    Prior.__init__ = __init__


_pool_init()
_pool_tell()
_pool_frames()
_space_frames()
_prior_init()

__all__ = ["PoolCampaign", "SpaceCampaign", "Prior", "campaign_settings", "natural_columns", "natural_table",
           "element_formulas", "element_of_column"]
