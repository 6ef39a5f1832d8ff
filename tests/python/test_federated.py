"""sozai.federated: secure aggregation through Python, against the plain sum."""

import numpy as np
import pytest

import sozai
from sozai import federated as F


def test_secure_sum_equals_the_plain_sum_within_the_quantisation_bound():
    rng = np.random.default_rng(0)
    vecs = rng.uniform(-1, 1, size=(5, 300))
    r = F.secure_sum(vecs, threshold=3, clip=1.0)
    assert r["survivors"] == [1, 2, 3, 4, 5]
    err = np.abs(np.array(r["sum"]) - vecs.sum(0)).max()
    assert err <= r["max_quantisation_error"]
    assert r["max_quantisation_error"] < 1e-8
    assert r["coordinator_bytes"] > r["plain_bytes"] == 5 * 300 * 4


def test_dropouts_are_recovered_and_too_many_refused():
    vecs = np.arange(12, dtype=float).reshape(4, 3) / 10
    r = F.secure_sum(vecs, threshold=2, clip=2.0, drop_after_sharing=[1, 4])
    assert r["survivors"] == [2, 3]
    np.testing.assert_allclose(r["sum"], vecs[1] + vecs[2], atol=r["max_quantisation_error"])
    # One of 5 vanishes before its masked vector, one after: the sum holds the four whose vectors arrived.
    five = np.arange(15, dtype=float).reshape(5, 3) / 20
    r = F.secure_sum(five, threshold=3, clip=1.0, drop_after_sharing=[2], drop_after_masking=[5])
    assert r["survivors"] == [1, 3, 4, 5]
    np.testing.assert_allclose(r["sum"], five[[0, 2, 3, 4]].sum(0), atol=r["max_quantisation_error"])
    with pytest.raises(sozai.InputError, match="fewer than the threshold 3"):
        F.secure_sum(vecs, threshold=3, clip=2.0, drop_after_sharing=[1, 4])
    with pytest.raises(sozai.InputError, match="entry 1"):
        F.secure_sum([[0.0, float("nan")], [0.0, 0.0]], threshold=2, clip=1.0)


def test_shamir_and_fixed_point():
    secret = bytes(range(32))
    shares = F.shamir_split(secret, 3, [1, 2, 3, 4])
    assert F.shamir_combine({1: shares[1], 3: shares[3], 4: shares[4]}, 3) == secret
    with pytest.raises(sozai.InputError, match="2 share"):
        F.shamir_combine({1: shares[1], 2: shares[2]}, 3)
    fp = F.FixedPoint(clip=1.0, parties=3)
    enc = [fp.encode([0.5, -0.25, 9.0]) for _ in range(3)]
    ring = [sum(col) % 2**32 for col in zip(*enc)]
    np.testing.assert_allclose(fp.decode_sum(ring), [1.5, -0.75, 3.0], atol=3 * 0.5 / fp.scale())


def test_privacy_accounting_and_noise():
    from math import erfc, exp, sqrt

    def phi(x):
        return 0.5 * erfc(-x / sqrt(2))

    def exact(z, rounds, delta):  # the exact curve of the composed Gaussian mechanism (mu-GDP)
        mu = sqrt(rounds) / z
        lo, hi = 0.0, 1000.0
        for _ in range(200):
            mid = (lo + hi) / 2
            d = phi(-mid / mu + mu / 2) - exp(mid) * phi(-mid / mu - mu / 2)
            lo, hi = (mid, hi) if d > delta else (lo, mid)
        return hi

    for z, rounds in [(1.0, 1), (2.0, 50), (5.0, 200)]:
        p = F.gaussian_privacy(z, rounds, 1e-5)
        assert exact(z, rounds, 1e-5) <= p["epsilon"] <= 1.25 * exact(z, rounds, 1e-5) + 0.05
    with pytest.raises(sozai.InputError, match="delta"):
        F.gaussian_privacy(1.0, 1, 0.0)
    np.testing.assert_allclose(F.clip_and_noise([3.0, 4.0], 1.0, 0.0), [0.6, 0.8])
    noisy = np.array(F.clip_and_noise(np.zeros(100_000), 1.0, 2.0))
    assert abs(noisy.std() - 2.0) < 0.04 and abs(noisy.mean()) < 0.06


def _alloy_parties():
    parties = [([], []), ([], []), ([], [])]
    for i in range(7):
        for j in range(7 - i):
            for k in range(7 - i - j):
                fe, ni, co = i / 6, j / 6, k / 6
                cr = 1 - fe - ni - co
                p = parties[min(2, i // 2)]
                p[0].append(f"Fe{fe + 0.01:.4f}Ni{ni + 0.01:.4f}Co{co + 0.01:.4f}Cr{cr + 0.01:.4f}")
                p[1].append(300 + 200 * fe - 80 * ni * co + 50 * cr)
    return [(x, np.array(y)) for x, y in parties]


def test_simulate_trains_a_model_whose_targets_the_coordinator_never_sees():
    parties = _alloy_parties()
    kw = dict(n_members=2, hidden=8, head_hidden=8, layers=1, batch_size=16, lr=5e-3, progress=False)
    model, log = F.simulate("composition", parties, rounds=3, seed=0, keep_messages=True, **kw)
    mean, var = model.predict(parties[0][0])
    assert mean.shape == (len(parties[0][0]),) and np.isfinite(mean).all() and (var > 0).all()
    assert len(log["round_bytes"]) == 3 and log["coordinator_bytes"] == len(log["coordinator_received"])
    got = log["coordinator_received"]
    for _, y in parties:
        for v in y:
            assert np.float64(v).tobytes() not in got and np.float32(v).tobytes() not in got
    plain, plain_log = F.simulate("composition", parties, rounds=3, seed=0, secure=False, **kw)
    pm, _ = plain.predict(parties[0][0])
    spread = np.concatenate([y for _, y in parties]).std()
    assert np.abs(pm - mean).max() < 1e-3 * spread  # the same model up to rounding
    with pytest.raises(sozai.InputError, match="party 2"):
        F.simulate("composition", [parties[0], (["Xx2O3", "Fe"], [1.0, 2.0])], rounds=1, **kw)


def test_an_interrupted_simulation_resumes_to_the_uninterrupted_model(tmp_path):
    parties = _alloy_parties()
    kw = dict(n_members=2, hidden=8, head_hidden=8, layers=1, batch_size=16, lr=5e-3, progress=False,
              rounds=3, local_epochs=2, seed=0, server_momentum=0.5)
    whole, whole_log = F.simulate("composition", parties, **kw)
    ck = tmp_path / "fed.pt"
    part, log = F.simulate("composition", parties, checkpoint=ck, max_hours=1e-9, **kw)  # one round, then stops
    assert not log["finished"] and len(log["round_loss"]) == 1 and ck.exists()
    assert np.isfinite(part.predict(parties[0][0])[0]).all()  # the global model as it stands
    resumed, log = F.simulate("composition", parties, checkpoint=str(ck), **kw)
    assert log["finished"] and log["resumed_rounds"] == 1 and not ck.exists()
    for a, b in zip(whole.predict(parties[2][0]), resumed.predict(parties[2][0])):
        np.testing.assert_array_equal(a, b)  # bit for bit
    assert log["round_loss"] == whole_log["round_loss"]
    assert log["coordinator_bytes"] == whole_log["coordinator_bytes"]
    # A checkpoint of other settings is refused, naming what differs, and kept.
    F.simulate("composition", parties, checkpoint=ck, max_hours=1e-9, **kw)
    with pytest.raises(sozai.InputError, match="other settings or data.*federation"):
        F.simulate("composition", parties, checkpoint=ck, **dict(kw, local_epochs=1))
    assert ck.exists()


def test_fedprox_keeps_local_training_near_the_global_model():
    parties = _alloy_parties()
    kw = dict(n_members=1, hidden=8, head_hidden=8, layers=1, batch_size=16, lr=5e-3, progress=False)
    _, avg = F.simulate("composition", parties, rounds=1, local_epochs=3, seed=0, **kw)
    _, prox = F.simulate("composition", parties, rounds=1, local_epochs=3, seed=0, proximal_mu=1e3, **kw)
    assert 0 < prox["round_update_norm"][0] < 0.5 * avg["round_update_norm"][0]


def test_a_federated_model_is_a_prior_for_the_next_campaign():
    parties = _alloy_parties()
    kw = dict(n_members=2, hidden=8, head_hidden=8, layers=1, batch_size=16, lr=5e-3, progress=False)
    model, _ = F.simulate("composition", parties, rounds=2, seed=0, **kw)
    # Company A's next pool: its own column order and a process column the model does not use.
    grid = [(ni / 4, co / 4, 1 - (ni + co) / 4, 600.0 + 10 * ni) for ni in range(5) for co in range(5 - ni)]
    pool = np.array(grid)
    columns = ["Ni", "Co", "Fe", "anneal_T"]
    prior = sozai.campaign.Prior.from_model(model, pool, columns, maximize=True, name="federated")
    formulas = ["".join(f"{e}{v:.8g}" for e, v in zip(columns[:3], row[:3]) if v > 0) for row in pool]
    np.testing.assert_allclose(prior.y, model.predict(formulas)[0], rtol=1e-12)
    c = sozai.campaign.PoolCampaign(pool, priors=[prior], columns=columns, n_init=2, seed=1)
    c.tell([0, 5], [310.0, 420.0])
    assert len(c.ask(1)) == 1
    with pytest.raises(sozai.InputError, match="row 1"):
        sozai.campaign.Prior.from_model(model, np.zeros((2, 4)), columns)


def test_differential_privacy_in_training_reports_its_epsilon():
    parties = _alloy_parties()
    kw = dict(n_members=1, hidden=8, head_hidden=8, layers=1, batch_size=16, lr=5e-3, progress=False)
    _, log = F.simulate("composition", parties, rounds=3, seed=0, dp_clip=1e-3, dp_noise_multiplier=1.5,
                        dp_delta=1e-6, **kw)
    assert log["dp_epsilon"] == pytest.approx(F.gaussian_privacy(1.5, 3, 1e-6)["epsilon"])
    assert log["dp_delta"] == 1e-6
    _, clipped = F.simulate("composition", parties, rounds=2, seed=0, dp_clip=1e-4, **kw)
    assert max(clipped["round_update_norm"]) <= 1e-4 * 1.001 + 1e-6 and clipped["dp_epsilon"] == 0
    with pytest.raises(sozai.InputError, match="dp_clip"):
        F.simulate("composition", parties, rounds=1, dp_noise_multiplier=1.0, **kw)


def test_server_optimiser_scales_and_carries_the_step():
    parties = _alloy_parties()
    kw = dict(n_members=1, hidden=8, head_hidden=8, layers=1, batch_size=16, lr=5e-3, progress=False)
    _, one = F.simulate("composition", parties, rounds=1, seed=0, **kw)
    _, half = F.simulate("composition", parties, rounds=1, seed=0, server_lr=0.5, **kw)
    assert half["round_update_norm"][0] == pytest.approx(0.5 * one["round_update_norm"][0], rel=1e-9)
    with pytest.raises(sozai.InputError, match="server_momentum"):
        F.simulate("composition", parties, rounds=1, server_momentum=1.0, **kw)


@pytest.mark.parametrize("kind", ["polymer", "crystal"])
def test_every_kind_of_ensemble_trains_federated(kind, data_dir):
    import pandas as pd

    if kind == "polymer":
        df = pd.read_csv(data_dir / "polymers" / "Tg_Original.csv").sample(60, random_state=0)
        x, y = list(df["Smiles"]), df["Tg"].to_numpy()
    else:
        df = pd.read_csv(data_dir / "ceramics" / "perov_5_val.csv").head(60)
        x, y = list(df["cif"]), df["heat_all"].to_numpy()
    parties = [(x[:30], y[:30]), (x[30:], y[30:])]
    kw = dict(n_members=1, hidden=8, head_hidden=8, layers=1, batch_size=16, lr=5e-3, progress=False)
    # A fixed-point range that clips nothing, so that secure and clear sums differ by rounding only.
    secure, log = F.simulate(kind, parties, rounds=2, seed=0, update_clip=10.0, **kw)
    plain, _ = F.simulate(kind, parties, rounds=2, seed=0, secure=False, update_clip=10.0, **kw)
    assert log["clipped_entries"] == 0
    a, var = secure.predict(x[:10])
    b, _ = plain.predict(x[:10])
    assert np.isfinite(a).all() and (var > 0).all() and len(log["round_bytes"]) == 2
    assert np.abs(a - b).max() < 1e-3 * y.std()  # the same model through secure aggregation and in the clear
