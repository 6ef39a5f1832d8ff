"""Design spaces: parameters, constraints, lazy enumeration, sampling, encoding."""

from ._sozai import spaces as _s

import json as _json

DesignSpace = _s.DesignSpace
SobolEngine = _s.SobolEngine


def iterate(space, chunk=65536, start=0):
    """Yields (values, grid_index) chunks of the feasible grid points of
    `space`, in grid order, holding one chunk in memory at a time."""
    done = False
    while not done:
        values, index, start, done = space.enumerate(start, chunk)
        if len(index):
            yield values, index


def space_to_json(space):
    """The space as a JSON-compatible dict (parameters, constraints,
    forbidden elements, critical budget)."""
    return _json.loads(_s.space_to_json(space))


def space_from_json(spec, origin="design space"):
    """A DesignSpace from a dict or JSON text in space_to_json's form."""
    text = spec if isinstance(spec, str) else _json.dumps(spec)
    return _s.space_from_json(text, origin)


def candidate_to_json(space, candidate):
    """Named values {parameter: value} of a raw candidate (compositions as
    {element: fraction}, choices as their labels)."""
    return _json.loads(_s.candidate_to_json(space, candidate))


def candidate_from_json(space, values, origin="candidate", check_feasible=True):
    """The raw candidate of named values (a dict or JSON text); InputError
    naming the parameter that is missing, unknown, mistyped or outside the
    space."""
    text = values if isinstance(values, str) else _json.dumps(values)
    return _s.candidate_from_json(space, text, origin, check_feasible)


__all__ = ["DesignSpace", "SobolEngine", "iterate", "space_to_json", "space_from_json", "candidate_to_json",
           "candidate_from_json"]
