"""Design spaces: parameters, constraints, lazy enumeration, sampling, encoding."""

from ._sozai import spaces as _s

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


__all__ = ["DesignSpace", "SobolEngine", "iterate"]
