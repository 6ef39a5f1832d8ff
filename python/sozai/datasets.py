"""Readers for real closed-loop datasets and the registry of data sources.

Files are found in ``$SOZAI_DATA_DIR``, then the user cache, then fetched
from their canonical source and checked against the registered SHA-256.
"""

from ._sozai import datasets as _d

dataset_registry = _d.dataset_registry
dataset_info = _d.dataset_info
dataset_path = _d.dataset_path
dataset_search_dirs = _d.dataset_search_dirs
load_closed_loop = _d.load_closed_loop
read_pvlab_csv = _d.read_pvlab_csv
read_olympus_dir = _d.read_olympus_dir
read_pool_csv = _d.read_pool_csv
FeaturizedDataset = _d.FeaturizedDataset
FeaturizedReader = _d.FeaturizedReader
write_featurized = _d.write_featurized
read_featurized = _d.read_featurized
import_property_csv = _d.import_property_csv
import_registered_dataset = _d.import_registered_dataset


def iter_featurized(path, chunk=4096):
    """Yields FeaturizedDataset chunks of `chunk` rows from an HDF5 file,
    holding one chunk in memory at a time."""
    reader = FeaturizedReader(path)
    for start in range(0, len(reader), chunk):
        yield reader.read(start, chunk)


def read_frame(name, file=None):
    """A registered dataset as a pandas DataFrame. Closed-loop datasets come as
    load_closed_loop gives them: the input columns, then the objectives, repeated
    inputs averaged (their count in ``counts``). Property datasets are the
    registered CSV as it is. The file is found like every dataset (SOZAI_DATA_DIR,
    the cache, or fetched) and its SHA-256 checked. file: which of several
    registered files (its relative path) for a property dataset."""
    import pandas as pd
    info = dataset_info(name)
    if info.closed_loop:
        d = load_closed_loop(name)
        frame = pd.DataFrame(d["X"], columns=list(d["input_names"]))
        for j, o in enumerate(d["objective_names"]):
            frame[o] = d["Y"][:, j]
        frame["counts"] = d["counts"]
        return frame
    paths = [f.relative_path for f in info.files]
    if file is None:
        if len(paths) != 1:
            raise ValueError(f"read_frame: {name} has {len(paths)} files ({', '.join(paths)}); choose one with file=")
        file = paths[0]
    if file not in paths:
        raise ValueError(f"read_frame: {name} has no file {file!r} (files: {', '.join(paths)})")
    return pd.read_csv(dataset_path(info, file))


def closed_loop_names(single_objective=True):
    """Registry names of the closed-loop datasets (single-objective only by default)."""
    return [d.name for d in dataset_registry()
            if d.closed_loop and (d.single_objective or not single_objective)]


__all__ = ["FeaturizedDataset", "FeaturizedReader", "write_featurized", "read_featurized", "iter_featurized",
           "import_property_csv", "import_registered_dataset",
           "dataset_registry", "dataset_info", "dataset_path", "dataset_search_dirs", "load_closed_loop",
           "read_pvlab_csv", "read_olympus_dir", "read_pool_csv", "closed_loop_names", "read_frame"]
