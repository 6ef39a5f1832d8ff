"""pandas in and out.

Every call that takes a table of inputs also takes a DataFrame (its columns
in order; a pool or prior campaign takes their names as its ``columns``),
and every call that takes targets takes a Series, or the name of a column of
the input frame. The checks are the same everywhere: a missing value, a
non-numeric column or a repeated column name is an :class:`InputError`
naming the column (and the rows). Calls that return candidates or
predictions give a DataFrame with ``as_frame=True`` (or ``ask_frame``):
the input columns, then ``mean``, ``std`` (and ``acquisition``), indexed by
the input frame's own index.

>>> import pandas as pd, sozai
>>> df = pd.DataFrame({"Ni": [0.2, 0.5], "T": [900.0, float("nan")]}, index=["a", "b"])
>>> sozai.frames.to_array(df)
Traceback (most recent call last):
...
sozai._sozai.InputError: table: column 'T' has 1 missing value (row 'b')
"""

import numpy as np

from ._sozai import InputError

__all__ = ["to_array", "table", "targets", "strings", "predictions"]


def _pandas():
    import pandas  # imported on first use: the numpy path never needs it
    return pandas


def is_frame(obj):
    """Whether obj is a pandas DataFrame."""
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")


def is_series(obj):
    """Whether obj is a pandas Series."""
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "dtype") and hasattr(obj, "index") \
        and not hasattr(obj, "columns")


def _rows(labels, limit=5):
    shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in list(labels)[:limit])
    more = len(labels) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _check_column(values, column, where):
    """A pandas column (Series) as float64, or InputError naming it."""
    pd = _pandas()
    dtype = values.dtype
    if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) \
            or pd.api.types.is_complex_dtype(dtype):
        bad = values[~values.map(lambda v: isinstance(v, (int, float, np.number, bool)) and not isinstance(v, complex))]
        example = f", e.g. {bad.iloc[0]!r} in row {_rows(bad.index[:1])}" if len(bad) else ""
        raise InputError(f"{where}: column {column!r} is not numeric (dtype {dtype}{example}); encode it as numbers "
                         "(pandas.get_dummies for categories) or leave it out")
    missing = values.isna().to_numpy()
    if missing.any():
        labels = values.index[missing]
        n = int(missing.sum())
        raise InputError(f"{where}: column {column!r} has {n} missing value{'s' if n > 1 else ''} "
                         f"(row{'s' if n > 1 else ''} {_rows(labels)})")
    return values.to_numpy(dtype=np.float64)


def to_array(obj, where="table"):
    """A DataFrame as a float64 array [n, columns], a Series as [n]; numpy
    arrays and lists pass through numpy. InputError for a missing value, a
    non-numeric column or a repeated column name, naming the column and the
    rows (by the frame's index)."""
    if is_frame(obj):
        columns = list(obj.columns)
        seen = {}
        for c in columns:
            seen[c] = seen.get(c, 0) + 1
        repeated = [c for c, k in seen.items() if k > 1]
        if repeated:
            raise InputError(f"{where}: column name {repeated[0]!r} appears {seen[repeated[0]]} times; "
                             "each input needs its own name")
        if len(columns) == 0:
            raise InputError(f"{where}: the frame has no columns")
        out = np.empty((len(obj), len(columns)), dtype=np.float64)
        for j, c in enumerate(columns):
            out[:, j] = _check_column(obj.iloc[:, j], c, where)
        return out
    if is_series(obj):
        return _check_column(obj, obj.name if obj.name is not None else "values", where)
    return np.ascontiguousarray(obj, dtype=np.float64)


def table(X, where, name="X"):
    """(array [n, d], column names or None, index or None) of X: a
    DataFrame gives its names and index, anything else neither."""
    if is_frame(X):
        return to_array(X, f"{where}: {name}"), [str(c) for c in X.columns], X.index
    if is_series(X):
        raise InputError(f"{where}: {name} is a Series; give a DataFrame (X.to_frame()) or a 2-D array")
    return np.ascontiguousarray(X, dtype=np.float64), None, None


def targets(y, where, X=None, name="y"):
    """(targets [n] float64, X without the target column): y is an array, a
    Series (aligned by position; its index must match X's when X is a
    frame) or the name of a column of the frame X."""
    if isinstance(y, str):
        if not is_frame(X):
            raise InputError(f"{where}: {name}={y!r} names a column, but the inputs are not a DataFrame")
        if y not in X.columns:
            raise InputError(f"{where}: {name}={y!r} is not a column of the inputs (columns: "
                             f"{', '.join(map(str, X.columns))})")
        return to_array(X[y], f"{where}: {name}"), X.drop(columns=[y])
    if is_series(y) or is_frame(y):
        if is_frame(y):
            if y.shape[1] != 1:
                return to_array(y, f"{where}: {name}"), X
            y = y.iloc[:, 0]
        if (is_frame(X) or is_series(X)) and len(X) == len(y) and not X.index.equals(y.index):
            raise InputError(f"{where}: the index of {name} is not the inputs' index (same rows in another order, "
                             "or other rows); align them (y.loc[X.index]) or pass arrays")
        return to_array(y, f"{where}: {name}"), X
    return np.ascontiguousarray(y, dtype=np.float64), X


def strings(obj, where):
    """A Series (or list) of texts as a list of str; InputError naming the rows of missing or non-text values."""
    if not is_series(obj):
        return obj
    name = obj.name if obj.name is not None else "inputs"
    bad = obj.map(lambda v: not isinstance(v, str)).to_numpy(dtype=bool)
    if bad.any():
        raise InputError(f"{where}: column {name!r} has {int(bad.sum())} missing or non-text value(s) "
                         f"(rows {_rows(obj.index[bad])})")
    return [str(v) for v in obj]


def _outcome_names(names, m):
    """Column suffixes of m predicted outcomes: none for one, else the outcome names (y0, y1, ... by default)."""
    if m == 1:
        return [""]
    if names and len(names) == m and all(names):
        return list(names)
    return [f"y{j}" for j in range(m)]


def predictions(columns, values, index, mean, variance, acquisition=None, outcome_names=None, extra=None):
    """A DataFrame of candidates: the input columns, then the predicted
    ``mean`` and ``std`` (``mean.NAME``/``std.NAME`` per outcome when there
    are several), then ``acquisition`` when given; indexed by `index`."""
    pd = _pandas()
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    if columns is None:
        columns = [f"x{j}" for j in range(values.shape[1])]
    data = {c: values[:, j] for j, c in enumerate(columns)}
    for k, v in (extra or {}).items():
        data[k] = v
    if mean is not None:
        mean = np.asarray(mean, dtype=np.float64).reshape(n, -1)
        var = np.asarray(variance, dtype=np.float64).reshape(n, -1)
        for j, name in enumerate(_outcome_names(outcome_names, mean.shape[1])):
            suffix = f".{name}" if name else ""
            data["mean" + suffix] = mean[:, j]
            data["std" + suffix] = np.sqrt(np.maximum(var[:, j], 0.0))
    if acquisition is not None:
        data["acquisition"] = np.asarray(acquisition, dtype=np.float64).reshape(n)
    return pd.DataFrame(data, index=index if index is not None else pd.RangeIndex(n))
