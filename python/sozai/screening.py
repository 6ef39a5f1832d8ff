"""Batch screening: score every candidate of a library that does not fit in
memory and keep the best ``top`` (or the Pareto set), the same as
``sozai screen`` (C++: ``sozai::screen::screen``).

>>> import sozai
>>> top = sozai.screen(space="space.json", campaign="state.json", score="logei", top=100)  # doctest: +SKIP
>>> top.to_frame().head()  # doctest: +SKIP

Candidates: a design space (``space=``: a JSON file, or a dict written to a
temporary file; default: the campaign's own space) enumerated lazily by grid
index, or a library (``library=``: featurised ``.h5``, ``.csv`` with the
model's input in column ``input``, ``.smi``, or a directory of CIF/POSCAR
files). Model: a saved campaign (``campaign=``: its GP per outcome) or
trained networks (``models=[...]``: saved GnnEnsemble files or
``"NAME:TASK"`` of a pretrained model, one objective each). Under ``mpirun``
every rank screens its part and rank 0 returns the merged result.
"""

import json
import os
import tempfile

import numpy as np

from . import _sozai

__all__ = ["ScreenResult", "screen", "screen_merge", "read_screen", "simplex_grid_size"]

simplex_grid_size = _sozai.simplex_grid_size


class ScreenResult:
    """The hits of a screen, best first.

    Attributes: ``index`` (grid position or row of each hit), ``score``,
    ``mean`` and ``variance`` ``[k, outcomes]``, ``outcomes`` (names),
    ``columns`` and ``values`` (the named values of each hit, as text),
    ``provenance`` (model digests, candidates, settings, sozai version),
    ``screened`` (candidates scored), ``exact`` (of them, those whose exact
    posterior was computed; the rest were dismissed by bounds), ``positions`` (positions examined),
    ``complete``.
    """

    def __init__(self, d):
        self.index = d["index"]
        self.score = d["score"]
        self.mean = d["mean"]
        self.variance = d["variance"]
        self.outcomes = list(d["outcomes"])
        self.columns = list(d["columns"])
        self.values = [list(v) for v in d["values"]]
        self.provenance = d["provenance"]
        self.screened = int(d["screened"])
        self.positions = int(d["positions"])
        self.exact = int(d.get("exact", self.screened))
        self.complete = bool(d["complete"])

    def __len__(self):
        return len(self.index)

    def __repr__(self):
        return (f"ScreenResult({len(self)} hits of {self.screened} candidates scored, "
                f"outcomes={self.outcomes}, score={self.provenance.get('settings', {}).get('score')!r})")

    def to_frame(self):
        """The hits as a pandas DataFrame indexed by grid position (or row):
        one column per named value (numbers where they parse), then score,
        and mean/variance per outcome (``mean`` and ``variance`` for one)."""
        import pandas as pd

        data = {}
        for j, c in enumerate(self.columns):
            col = [v[j] for v in self.values]
            try:
                data[c] = np.array([float(x) for x in col])
            except ValueError:
                data[c] = col
        data["score"] = self.score
        one = len(self.outcomes) == 1
        for j, o in enumerate(self.outcomes):
            data["mean" if one else f"mean.{o}"] = self.mean[:, j]
            data["variance" if one else f"variance.{o}"] = self.variance[:, j]
        return pd.DataFrame(data, index=pd.Index(self.index, name="index"))


def _path_or_temp(space, stack):
    if space is None or isinstance(space, (str, os.PathLike)):
        return "" if space is None else os.fspath(space)
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(space, f)
    f.close()
    stack.append(f.name)
    return f.name


def screen(space=None, library=None, input=None, campaign=None, models=None, objectives=None, minimize=False,
           score="logei", beta=4.0, best=None, limits=(), min_probability=0.5, seed=0, top=1000, chunk=65536,
           out=None, checkpoint=None, checkpoint_seconds=30.0, shard=(0, 1), device="cpu", progress=True,
           use_mpi=True, max_blocks=-1, prune=True):
    """Scores every candidate and returns the best ``top`` (score
    ``"pareto"``: the non-dominated set) as a :class:`ScreenResult`.

    score: ``"mean"``, ``"ucb"`` (mean + sqrt(beta) sd), ``"ei"``/``"logei"``
    (against ``best``, default the campaign's best), ``"thompson"`` (one
    posterior sample path, seeded), ``"pareto"``. limits: ``"name>=value"``
    strings; EI/LogEI are weighted by the probability of meeting them, the
    other scores keep candidates at least ``min_probability`` likely to.
    out: ``.csv`` or ``.h5``; checkpoint: default ``out + ".ckpt"`` (a rerun
    resumes); shard: ``(i, n)`` screens part i of n (merge with
    :func:`screen_merge`). device: ``"cpu"``, ``"cuda[:N]"`` or ``"auto"``.
    prune: dismiss candidates whose score is bounded below the k-th best so far
    before computing their exact posterior (a campaign's GPs; the result is the
    same, ``exact`` on the result counts the candidates computed exactly).
    """
    if isinstance(models, (str, os.PathLike)):
        models = [models]
    temps = []
    try:
        d = _sozai.screen_run(
            space=_path_or_temp(space, temps), library="" if library is None else os.fspath(library),
            input=input or "", campaign="" if campaign is None else os.fspath(campaign),
            models=[os.fspath(m) for m in (models or [])], objectives=list(objectives or []), minimize=bool(minimize),
            score=score, beta=float(beta), best=best, limits=list(limits), min_probability=float(min_probability),
            seed=int(seed), top=int(top), chunk=int(chunk), out="" if out is None else os.fspath(out),
            checkpoint="" if checkpoint is None else os.fspath(checkpoint),
            checkpoint_seconds=float(checkpoint_seconds), shard_index=int(shard[0]), shard_count=int(shard[1]),
            device=device, progress=bool(progress), use_mpi=bool(use_mpi), max_blocks=int(max_blocks),
            prune=bool(prune))
    finally:
        for t in temps:
            os.unlink(t)
    return ScreenResult(d)


def screen_merge(parts, out=None):
    """Combines the parts of a sharded screen (``shard=(i, n)`` runs) into
    one result, written to ``out`` when given."""
    return ScreenResult(_sozai.screen_merge([os.fspath(p) for p in parts], "" if out is None else os.fspath(out)))


def read_screen(path):
    """A result written by :func:`screen` or ``sozai screen --out``."""
    return ScreenResult(_sozai.screen_read(os.fspath(path)))


screen.merge = screen_merge
