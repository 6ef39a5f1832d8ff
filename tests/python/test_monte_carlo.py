"""Monte-Carlo batch acquisition (qLogNEI, qUCB) from Python: against the
analytic q = 1 forms, pending experiments, seeds, and in campaigns."""

import math

import numpy as np
import pytest

import sozai


def _fixed_gp(X, y, noise=1e-6):
    gp = sozai.models.ExactGP(outcome_transform="standardize")
    h = sozai.models.GPHyperparameters()
    h.lengthscale = [0.25, 0.25]
    h.outputscale = 1.0
    h.noise = noise
    gp.hyperparameters = h
    gp.set_input_bounds(np.zeros(2), np.ones(2))
    gp.set_data(X, y)
    return gp


def _problem(n=200, n_obs=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 2))
    y = np.sin(6 * X[:, 0]) * np.cos(4 * X[:, 1]) + 0.5 * X[:, 1]
    available = np.ones(n, dtype=bool)
    available[:n_obs] = False
    return X, y, available


def test_qlognei_q1_matches_log_ei_from_numpy():
    X, y, _ = _problem()
    gp = _fixed_gp(X[:12], y[:12])
    m, v = gp.latent_posterior(X[12:])
    best = sozai.bo.best_latent_value(gp, y[:12], True)
    # Closed-form log EI in numpy, independent of sozai's kernels.
    s = np.sqrt(v)
    z = (m - best) / s
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    cdf = 0.5 * np.array([math.erfc(-t / math.sqrt(2)) for t in z])
    with np.errstate(divide="ignore"):
        log_ei = np.log(s * (pdf + z * cdf))
    mc = sozai.bo.mc_acquisition(gp, X[12:, None, :], X[:12], "qlognei", samples=4096, seed=1)
    sel = log_ei > -6
    assert sel.sum() >= 10
    np.testing.assert_allclose(mc[sel], log_ei[sel], atol=0.05)


def test_qucb_q1_matches_ucb():
    X, y, _ = _problem(seed=2)
    gp = _fixed_gp(X[:10], y[:10], noise=1e-3)
    m, v = gp.latent_posterior(X[10:])
    mc = sozai.bo.mc_acquisition(gp, X[10:, None, :], X[:10], "qucb", beta=2.0, samples=8192)
    np.testing.assert_allclose(mc, m + np.sqrt(2.0 * v), atol=0.03 * np.sqrt(v).max())


def test_select_batch_mc_pending_and_seeds():
    X, y, available = _problem(300, 10, seed=3)
    gp = _fixed_gp(X[:10], y[:10], noise=1e-4)
    b1 = sozai.bo.select_batch_mc(gp, X, available, 4, X[:10], "qlognei", seed=7)
    b2 = sozai.bo.select_batch_mc(gp, X, available, 4, X[:10], "qlognei", seed=7)
    assert b1.tolist() == b2.tolist() and len(set(b1.tolist())) == 4 and all(r >= 10 for r in b1)
    # The second pick attains the best value of the batch [first pick, x] evaluated directly.
    cand = [r for r in range(10, 300) if r != b1[0]]
    Xq = np.stack([np.repeat(X[b1[0]][None], len(cand), 0), X[cand]], axis=1)
    vals = sozai.bo.mc_acquisition(gp, Xq, X[:10], "qlognei", seed=7)
    assert vals[cand.index(int(b1[1]))] >= vals.max() - 0.02
    # With the first pick pending, the proposal is what the batch would have added.
    assert sozai.bo.select_batch_mc(gp, X, available, 1, X[:10], "qlognei", seed=7, pending=[int(b1[0])])[0] == b1[1]
    pruned = sozai.bo.prune_baseline(gp, X[:10])
    np.testing.assert_allclose(pruned, X[[int(np.argmax(y[:10]))]])


@pytest.mark.parametrize("acq", ["qlognei", "qucb"])
def test_campaign_with_mc_acquisition(acq, tmp_path):
    X, y, _ = _problem(150, 0, seed=4)

    def run(c, k):
        out = []
        for _ in range(k):
            rows = [int(r) for r in c.ask(3)]
            c.tell(rows[:2], [float(y[r]) for r in rows[:2]])  # one stays pending
            out += rows
        return out

    a = sozai.campaign.PoolCampaign(X, acquisition=acq, n_init=2, gp={"restarts": 2}, mc_samples=64, seed=5)
    seq_a = run(a, 4)
    assert len(set(seq_a)) == len(seq_a)
    b = sozai.campaign.PoolCampaign(X, acquisition=acq, n_init=2, gp={"restarts": 2}, mc_samples=64, seed=5)
    seq_b = run(b, 2)
    b.save(str(tmp_path / "c.json"))
    seq_b += run(sozai.campaign.PoolCampaign.load(str(tmp_path / "c.json")), 2)
    assert seq_a == seq_b
    order = sozai.benchmark.pool_campaign(X, y, True, 12, seed=1, acquisition=acq, q=4)
    assert len(order) == 12 and len(set(order)) == 12


def test_mc_bad_input():
    X, y, available = _problem(40, 6)
    gp = _fixed_gp(X[:6], y[:6])
    assert set(sozai.bo.acquisition_names()) >= {"logei", "qlognei", "qucb"}
    with pytest.raises(sozai.InputError, match="qlognei or qucb"):
        sozai.bo.mc_acquisition(gp, X[:, None, :], X[:6], "qfoo")
    with pytest.raises(sozai.InputError, match="X must be a 3-D array"):
        sozai.bo.mc_acquisition(gp, X, X[:6])
    with pytest.raises(sozai.InputError, match="expected one of"):
        sozai.campaign.PoolCampaign(X, acquisition="qnope")
    with pytest.raises(sozai.InputError, match="mc_samples"):
        sozai.campaign.PoolCampaign(X, acquisition="qlognei", mc_samples=0)


def test_thompson_paths_and_batches():
    X, y, available = _problem(5000, 12, seed=6)
    gp = _fixed_gp(X[:12], y[:12], noise=1e-2)
    paths = sozai.models.GPPathSampler(gp, 3000, seed=2, features=4096)
    f = paths(X[12:18])
    assert f.shape == (3000, 6)
    m, v = gp.latent_posterior(X[12:18])
    assert np.max(np.abs(f.mean(0) - m) / np.sqrt(v)) < 0.12
    assert np.max(np.abs(f.var(0) / v - 1)) < 0.15
    batch = sozai.bo.select_batch_thompson(gp, X, available, 10, seed=3, chunk=700, pending=[50])
    assert len(set(batch.tolist())) == 10 and all(r >= 12 and r != 50 for r in batch)
    assert batch.tolist() == sozai.bo.select_batch_thompson(gp, X, available, 10, seed=3, pending=[50]).tolist()
    first = sozai.models.GPPathSampler(gp, 1, seed=3)(X)[0]
    first[~available] = -np.inf
    first[50] = -np.inf
    assert batch[0] == int(np.argmax(first))
    order = sozai.benchmark.pool_campaign(X[:300], y[:300], True, 10, seed=2, acquisition="thompson", q=5)
    assert len(set(order)) == 10


def _two_objective_pool(n=150, seed=8):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 2))
    f1 = np.sin(3 * X[:, 0]) + 0.3 * X[:, 1]
    f2 = np.cos(3 * X[:, 0]) - 0.2 * X[:, 1] ** 2
    c = X[:, 0] + X[:, 1]
    return X, np.stack([f1, f2, c], axis=1)


@pytest.mark.parametrize("acq", ["qlognehvi", "qnehvi", "qparego"])
def test_multi_objective_campaign(acq, tmp_path):
    X, Y = _two_objective_pool()
    outcomes = [{"direction": "maximize"}, {"direction": "maximize"}, {"direction": "at_most", "limit": 1.2}]
    c = sozai.campaign.PoolCampaign(X, acquisition=acq, outcomes=outcomes, n_init=2, gp={"restarts": 2},
                                    mc_samples=32, seed=1)
    assert c.num_outcomes == 3 and c.outcomes == outcomes
    seq = []
    for _ in range(3):
        rows = [int(r) for r in c.ask(2)]
        for r in rows:
            c.tell_outcomes(r, Y[r].tolist())
        seq += rows
    assert len(set(seq)) == 6
    np.testing.assert_allclose(c.observed_outcomes, Y[seq])
    front = set(c.pareto_front().tolist())
    feas = [r for r in seq if Y[r, 2] <= 1.2]
    expect = {r for r in feas if not any((Y[s, :2] >= Y[r, :2]).all() and (Y[s, :2] > Y[r, :2]).any() for s in feas)}
    assert front == expect
    with pytest.raises(sozai.InputError, match="tell all of them"):
        c.tell(int(c.ask(1)[0]), 1.0)
    with pytest.raises(sozai.InputError, match="pareto_front"):
        c.best()
    path = tmp_path / "mo.json"
    c.save(str(path))
    d = sozai.campaign.PoolCampaign.load(str(path))
    assert d.outcomes == c.outcomes and d.pending.tolist() == c.pending.tolist()
    assert d.ask(2).tolist() == c.ask(2).tolist()


def test_pool_campaign_with_outcomes_and_errors():
    X, Y = _two_objective_pool(120)
    order = sozai.benchmark.pool_campaign(X, Y[:, :2], None, 10, seed=3, acquisition="qlognehvi", q=2,
                                          outcomes=[{"direction": "maximize"}, {"direction": "minimize"}], ref_point=[-0.5, 1.5], mc_samples=32)
    assert len(order) == 10 and len(set(order)) == 10
    again = sozai.benchmark.pool_campaign(X, Y[:, :2], None, 10, seed=3, acquisition="qlognehvi", q=2,
                                          outcomes=[{"direction": "maximize"}, {"direction": "minimize"}], ref_point=[-0.5, 1.5], mc_samples=32)
    assert order == again
    one = sozai.benchmark.pool_campaign(X, Y[:, [0, 2]], None, 8, seed=3, acquisition="qlognei",
                                        outcomes=[{"direction": "maximize"}, {"direction": "at_most", "limit": 1.0}], mc_samples=32)
    assert len(set(one)) == 8
    with pytest.raises(sozai.InputError, match="use qnehvi, qlognehvi or qparego"):
        sozai.campaign.PoolCampaign(X, acquisition="logei", outcomes=[{"direction": "maximize"}, {"direction": "minimize"}])
    with pytest.raises(sozai.InputError, match=r"outcomes\[1\]"):
        sozai.campaign.PoolCampaign(X, acquisition="qnehvi", outcomes=[{"direction": "maximize"}, {"direction": "at_most", "limit": "x"}])
    with pytest.raises(sozai.InputError, match="ref_point has 1 values for 2 objectives"):
        sozai.campaign.PoolCampaign(X, acquisition="qnehvi", outcomes=[{"direction": "maximize"}, {"direction": "minimize"}], ref_point=[0.0])
    with pytest.raises(sozai.InputError, match=r"Y must be \[n, 2\]"):
        sozai.benchmark.pool_campaign(X, Y, None, 5, outcomes=[{"direction": "maximize"}, {"direction": "minimize"}], acquisition="qnehvi")


def test_batches_in_a_design_space():
    space = sozai.spaces.DesignSpace()
    space.add_composition("c", ["Fe", "Ni", "Co"], high=[1.0, 1.0, 0.4])
    space.add_continuous("T", 500.0, 1200.0)
    raw = space.sample(10, seed=1)
    X = space.encode(raw)
    y = np.sin(5 * X[:, 0]) + X[:, 1] * X[:, 3]
    gp = sozai.models.ExactGP(restarts=2)
    gp.set_input_bounds(np.zeros(X.shape[1]), np.ones(X.shape[1]))
    gp.fit(X, y)
    for acq in ["logei", "qlognei", "thompson"]:
        batch = sozai.bo.select_batch_in_space(space, [gp], raw, y, q=2, acquisition=acq, seed=4, restarts=2,
                                               raw_samples=64, mc_samples=32)
        assert batch.shape == (2, 4)
        assert space.feasible(batch).all()
        np.testing.assert_allclose(batch[:, :3].sum(1), 1.0, atol=1e-9)
    p = sozai.bo.project_to_space(space, np.array([0.9, 0.5, 0.6, 2000.0]))
    assert space.feasible(p[None]).all() and p[3] == 1200.0
    # Two objectives.
    gp2 = sozai.models.ExactGP(restarts=2)
    gp2.set_input_bounds(np.zeros(X.shape[1]), np.ones(X.shape[1]))
    gp2.fit(X, -X[:, 2])
    mo = sozai.bo.select_batch_in_space(space, [gp, gp2], raw, np.stack([y, -X[:, 2]], 1), q=1,
                                        acquisition="qlognehvi", outcomes=["max", "max"], restarts=2, raw_samples=64,
                                        mc_samples=32)
    assert space.feasible(mo).all()


def test_hypervolume_against_optuna_wfg():
    from optuna._hypervolume import WFG

    rng = np.random.default_rng(11)
    for m in (2, 3, 4):
        Y = rng.uniform(size=(12, m))
        ref = np.full(m, -0.1)
        # Optuna minimises: negate both points and reference.
        assert sozai.bo.hypervolume(Y, ref) == pytest.approx(WFG().compute(-Y, -ref), rel=1e-12)
    Y = rng.uniform(size=(8, 2))
    mask = sozai.bo.non_dominated_mask(Y)
    front = Y[mask]
    for i in range(8):
        dominated = any((Y[j] >= Y[i]).all() and (Y[j] > Y[i]).any() for j in range(8))
        assert mask[i] == (not dominated)
    cand = rng.uniform(size=(5, 2))
    hvi = sozai.bo.hypervolume_improvement(front, np.zeros(2), cand)
    base = sozai.bo.hypervolume(front, np.zeros(2))
    for i in range(5):
        assert hvi[i] == pytest.approx(sozai.bo.hypervolume(np.vstack([front, cand[i]]), np.zeros(2)) - base)
    ref = sozai.bo.infer_reference_point(np.array([[1.0, 4.0], [3.0, 2.0], [0.0, 0.0]]), [True, False])
    assert ref == pytest.approx([-0.3, 2.2])


def test_select_batch_multi_from_python():
    X, Y = _two_objective_pool(100)
    gps = []
    for j in range(2):
        gp = sozai.models.ExactGP(restarts=2)
        gp.fit(X[:10], Y[:10, j])
        gps.append(gp)
    available = np.ones(100, dtype=bool)
    available[:10] = False
    rows = sozai.bo.select_batch_multi(gps, X, available, 3, X[:10], Y[:10, :2], ["max", "max"], samples=32, seed=2)
    assert len(set(rows.tolist())) == 3 and all(r >= 10 for r in rows)


def test_multi_task_gp_and_multi_fidelity_selection():
    rng = np.random.default_rng(12)
    f = lambda x: np.sin(6 * x) + x
    xc, xt = rng.uniform(size=20), np.array([0.1, 0.5, 0.9])
    X = np.concatenate([np.stack([xc, np.zeros(20)], 1), np.stack([xt, np.ones(3)], 1)])
    y = np.concatenate([0.9 * f(xc) + 0.1, f(xt)])
    mt = sozai.models.MultiTaskGP(num_tasks=2)
    mt.fit(X, y)
    assert mt.task_correlation(0, 1) > 0.9
    grid = np.linspace(0, 1, 40)
    m, v = mt.posterior(np.stack([grid, np.ones(40)], 1))
    alone = sozai.models.ExactGP()
    alone.fit(xt[:, None], f(xt))
    m1, _ = alone.posterior(grid[:, None])
    assert np.sqrt(np.mean((m - f(grid)) ** 2)) < 0.5 * np.sqrt(np.mean((m1 - f(grid)) ** 2))
    pool = np.concatenate([np.stack([grid, np.zeros(40)], 1), np.stack([grid, np.ones(40)], 1)])
    picks = sozai.bo.select_batch_multi_fidelity(mt, pool, np.ones(80, dtype=bool), 3, X, costs=[1.0, 10.0])
    assert len(set(picks.tolist())) == 3 and picks[0] < 40
    with pytest.raises(sozai.InputError, match="1 costs for 2 fidelities"):
        sozai.bo.log_augmented_ei(mt, pool, X, costs=[1.0])


def test_multi_fidelity_campaign():
    grid = np.linspace(0, 1, 30)
    f = np.sin(6 * grid) + grid
    pool = np.concatenate([np.stack([grid, np.zeros(30)], 1), np.stack([grid, np.ones(30)], 1)])
    y = np.concatenate([0.9 * f + 0.1, f])
    c = sozai.campaign.PoolCampaign(pool, acquisition="aei", fidelity_costs=[1.0, 10.0], n_init=4, gp={"restarts": 2})
    for _ in range(4):
        rows = [int(r) for r in c.ask(2)]
        c.tell(rows, [float(y[r]) for r in rows])
    assert c.cost_spent == pytest.approx(sum(1.0 if r < 30 else 10.0 for r in c.observed_indices))
    with pytest.raises(sozai.InputError, match="must be 'aei'"):
        sozai.campaign.PoolCampaign(pool, acquisition="logei", fidelity_costs=[1.0, 10.0])
    with pytest.raises(sozai.InputError, match="needs fidelity_costs"):
        sozai.campaign.PoolCampaign(pool, acquisition="aei")
