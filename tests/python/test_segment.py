"""Segment/scatter reductions and fused acquisition top-k against torch and numpy."""

import numpy as np
import pytest
import torch

import sozai
from sozai import kernels


def _random_ptr(rng, segments, rows):
    cuts = np.sort(rng.integers(0, rows + 1, size=segments - 1))
    return np.concatenate([[0], cuts, [rows]]).astype(np.int64)


@pytest.mark.parametrize("width", [(), (1,), (5,), (2, 3)])
def test_segment_and_scatter_match_torch(width):
    rng = np.random.default_rng(0)
    rows, segments = 500, 37
    src = rng.normal(size=(rows, *width))
    ptr = _random_ptr(rng, segments, rows)
    group = np.repeat(np.arange(segments), np.diff(ptr))
    t_src, t_group = torch.from_numpy(src), torch.from_numpy(group)
    expect_sum = torch.zeros((segments, *width), dtype=torch.float64).index_add_(0, t_group, t_src).numpy()
    expand = t_group.view(-1, *([1] * len(width))).expand_as(t_src)
    base = torch.zeros((segments, *width), dtype=torch.float64)
    expect_mean = base.scatter_reduce(0, expand, t_src, "mean", include_self=False).numpy()
    expect_max = base.scatter_reduce(0, expand, t_src, "amax", include_self=False).numpy()

    np.testing.assert_allclose(kernels.segment_sum(src, ptr), expect_sum, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kernels.segment_mean(src, ptr), expect_mean, rtol=1e-12, atol=1e-12)
    values, argmax = kernels.segment_max(src, ptr)
    np.testing.assert_allclose(values, expect_max, rtol=0, atol=0)

    perm = rng.permutation(rows)
    np.testing.assert_allclose(kernels.scatter_sum(src[perm], group[perm], segments), expect_sum, atol=1e-12)
    np.testing.assert_allclose(kernels.scatter_mean(src[perm], group[perm], segments), expect_mean, atol=1e-12)
    s_values, s_argmax = kernels.scatter_max(src[perm], group[perm], segments)
    np.testing.assert_array_equal(s_values, expect_max)
    # The argmax points at the rows that hold the maxima (E for empty groups).
    flat_src = src.reshape(rows, -1)
    arg = argmax.reshape(segments, -1)
    for b in range(segments):
        for f in range(arg.shape[1]):
            if ptr[b] == ptr[b + 1]:
                assert arg[b, f] == rows
            else:
                assert flat_src[arg[b, f], f] == values.reshape(segments, -1)[b, f]


def test_segment_input_errors():
    src = np.ones((4, 2))
    with pytest.raises(sozai.InputError, match="ptr\\[-1\\] must equal the number of rows"):
        kernels.segment_sum(src, [0, 1, 3])
    with pytest.raises(sozai.InputError, match="non-decreasing"):
        kernels.segment_mean(src, [0, 3, 1, 4])
    with pytest.raises(sozai.InputError, match="out of range for dim_size 2"):
        kernels.scatter_sum(src, [0, 1, 2, 0], 2)
    with pytest.raises(sozai.InputError, match="index has 3 entries but src has 4 rows"):
        kernels.scatter_max(src, [0, 1, 0])


@pytest.mark.parametrize("kind", ["ei", "logei", "ucb", "pi"])
def test_acquisition_topk_equals_sorting(kind):
    rng = np.random.default_rng(1)
    mean = rng.normal(size=20011)
    var = rng.uniform(0.01, 1.0, size=20011)
    full = kernels.analytic_acquisition(mean, var, kind, best_f=0.9)
    values, idx = kernels.acquisition_topk(mean, var, k=50, kind=kind, best_f=0.9)
    order = np.lexsort((np.arange(full.size), -full))[:50]
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_array_equal(values, full[order])


def test_running_topk_over_chunks():
    rng = np.random.default_rng(2)
    mean, var = rng.normal(size=30000), rng.uniform(0.05, 2.0, size=30000)
    whole_v, whole_i = kernels.acquisition_topk(mean, var, k=20, kind="ucb", beta=2.0)
    running = kernels.RunningTopK(20)
    for start in range(0, 30000, 4096):
        running.push_acquisition(mean[start:start + 4096], var[start:start + 4096], start, kind="ucb", beta=2.0)
    assert running.seen == 30000
    np.testing.assert_array_equal(running.indices, whole_i)
    np.testing.assert_array_equal(running.values, whole_v)
    with pytest.raises(sozai.InputError, match="k must be >= 1"):
        kernels.RunningTopK(0)
