"""Training across companies without pooling their data: secure aggregation.

The coordinator of a federated round learns the sum of the parties' updates
and nothing else of any one of them (Bonawitz et al., CCS 2017): updates are
quantised to fixed point in the ring of 32-bit integers (``FixedPoint``),
masked with pairwise masks from X25519 key agreement (ChaCha20 streams, which
cancel in the sum) and a self-mask, and both mask secrets are Shamir-shared
t of n (``shamir_split``/``shamir_combine``) so that the sum is still
recovered exactly when parties drop out after sharing their keys.

Differential privacy bounds what the final model itself can leak: each
party clips its update and adds Gaussian noise (``clip_and_noise``), and
``gaussian_privacy`` reports the (epsilon, delta) of the whole training.

``secure_sum`` runs one round in this process, party k holding
``vectors[k]``:

>>> import sozai
>>> r = sozai.federated.secure_sum([[0.5, -1.0], [0.25, 0.5], [1.0, 0.0]], threshold=2, clip=2.0,
...                                drop_after_sharing=[3])
>>> r["survivors"], [round(v, 6) for v in r["sum"]]
([1, 2], [0.75, -0.5])
"""

import numpy as np

from ._sozai import federated as _c

FixedPoint = _c.FixedPoint


def simulate(kind, parties, rounds=30, seed=0, secure=True, local_epochs=1, threshold=0, update_clip=1.0,
             calibration_fraction=0.1, keep_messages=False, proximal_mu=0.0, **kwargs):
    """Federated averaging of a ``GnnEnsemble`` over ``parties``, all simulated in this process.

    parties: one ``(inputs, y)`` or ``(inputs, y, conditions)`` per party (inputs by ``kind``: formulas,
    SMILES or structure texts); kwargs: those of :class:`sozai.models.GnnEnsemble` (``n_members``, ``hidden``,
    ``lr``, ``batch_size``, ``pretrained``, ...). Every round each party trains copies of the global members for
    ``local_epochs`` on its own rows (``proximal_mu`` > 0: FedProx, mu/2 |w - w_global|^2 added to the local
    loss, for parties whose data differ), and the coordinator averages the row-weighted updates - through secure
    aggregation unless ``secure=False`` (updates in the clear: the cost baseline). Normalisation and variance
    recalibration are agreed by secure sums too (each party reveals only the power of 2 above its largest
    |target|). Returns ``(model, log)``: ``model`` predicts like a GnnEnsemble; ``log`` holds
    ``round_seconds``, ``round_bytes``, ``round_update_norm``, ``coordinator_bytes``, ``coordinator_received`` (every byte, with
    ``keep_messages=True``), ``clipped_entries``, ``max_quantisation_error`` and ``variance_scale``.
    """
    from .models import GnnEnsemble

    like = GnnEnsemble(kind=kind, seed=seed, **kwargs)
    ps = []
    for p in parties:
        p = tuple(p)
        inputs = [str(x) for x in p[0]]
        rest = tuple(None if v is None else np.asarray(v, dtype=float) for v in p[1:])
        ps.append((inputs,) + rest)
    return _c.federated_fit(like, ps, int(rounds), int(local_epochs), bool(secure), int(threshold),
                            float(update_clip), float(calibration_fraction), bool(keep_messages), float(proximal_mu))


def secure_sum(vectors, threshold, clip, drop_after_sharing=(), round=0):  # noqa: A002 - the protocol's word
    """Sum of the parties' vectors through the masked protocol.

    vectors: one sequence of floats per party (ids 1..n in order), entries
    clipped to [-clip, clip]; threshold: parties needed to unmask (t of n);
    drop_after_sharing: ids that share their keys, then vanish before sending
    their masked vector. Returns a dict: ``sum`` (of the survivors' vectors),
    ``survivors``, ``coordinator_bytes`` (everything the coordinator
    received), ``plain_bytes`` (the same vectors sent in the clear) and
    ``max_quantisation_error`` (bound per entry of the sum). InputError when
    fewer than ``threshold`` parties survive.
    """
    vecs = [[float(x) for x in v] for v in vectors]
    return _c.secure_sum(vecs, int(threshold), float(clip), [int(d) for d in drop_after_sharing], int(round))


def shamir_split(secret, threshold, xs):
    """Shamir shares (GF(2^8), byte by byte) of ``secret`` (bytes) for each x in ``xs`` (1..255): {x: bytes}."""
    return _c.shamir_split(bytes(secret), int(threshold), [int(x) for x in xs])


def shamir_combine(shares, threshold):
    """The secret from at least ``threshold`` shares {x: bytes}."""
    return _c.shamir_combine({int(x): bytes(s) for x, s in shares.items()}, int(threshold))


def gaussian_privacy(noise_multiplier, rounds, delta):
    """(epsilon, delta) of ``rounds`` Gaussian releases with noise multiplier z (noise sd / clip norm), every
    party in every round: Rényi DP alpha / (2 z^2) per round (Mironov 2017), composed, converted by Canonne,
    Kamath and Steinke (2020). Returns {"epsilon", "delta", "best_order"}; epsilon is an upper bound.

    >>> round(gaussian_privacy(1.0, 1, 1e-5)["epsilon"], 2)
    4.73
    """
    return _c.gaussian_privacy(float(noise_multiplier), int(rounds), float(delta))


def clip_and_noise(update, clip_norm, noise_sd):
    """``update`` scaled to L2 norm at most ``clip_norm`` plus N(0, noise_sd^2) per entry from a cryptographic
    stream. With secure aggregation each of n parties adds noise_sd = z * clip_norm / sqrt(n)."""
    return _c.clip_and_noise([float(x) for x in update], float(clip_norm), float(noise_sd))


__all__ = ["FixedPoint", "simulate", "secure_sum", "shamir_split", "shamir_combine", "gaussian_privacy", "clip_and_noise"]
