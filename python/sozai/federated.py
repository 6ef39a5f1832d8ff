"""Training across companies without pooling their data: secure aggregation.

The coordinator of a federated round learns the sum of the parties' updates
and nothing else of any one of them (Bonawitz et al., CCS 2017): updates are
quantised to fixed point in the ring of 32-bit integers (``FixedPoint``),
masked with pairwise masks from X25519 key agreement (ChaCha20 streams, which
cancel in the sum) and a self-mask, and both mask secrets are Shamir-shared
t of n (``shamir_split``/``shamir_combine``) so that the sum is still
recovered exactly when parties drop out after sharing their keys.

``secure_sum`` runs one round in this process, party k holding
``vectors[k]``:

>>> import sozai
>>> r = sozai.federated.secure_sum([[0.5, -1.0], [0.25, 0.5], [1.0, 0.0]], threshold=2, clip=2.0,
...                                drop_after_sharing=[3])
>>> r["survivors"], [round(v, 6) for v in r["sum"]]
([1, 2], [0.75, -0.5])
"""

from ._sozai import federated as _c

FixedPoint = _c.FixedPoint


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


__all__ = ["FixedPoint", "secure_sum", "shamir_split", "shamir_combine"]
