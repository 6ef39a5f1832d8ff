"""Training across companies without pooling their data: federated averaging of ``GnnEnsemble``s through
secure aggregation, in one process (``simulate``) or over the network (``FederationService``, the coordinator
``sozai federate serve`` runs, and ``join``, one party whose rows never leave its process).

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

import json
import os

import numpy as np

from . import frames as _frames
from ._sozai import federated as _c

FixedPoint = _c.FixedPoint


def simulate(kind, parties, rounds=30, seed=0, secure=True, local_epochs=1, threshold=0, update_clip=1.0,
             calibration_fraction=0.1, keep_messages=False, proximal_mu=0.0, dp_clip=0.0, dp_noise_multiplier=0.0,
             dp_delta=1e-5, server_lr=1.0, server_momentum=0.0, checkpoint=None, checkpoint_minutes=5.0,
             max_hours=0.0, **kwargs):
    """Federated averaging of a ``GnnEnsemble`` over ``parties``, all simulated in this process.

    parties: one ``(inputs, y)`` or ``(inputs, y, conditions)`` per party (inputs by ``kind``: formulas,
    SMILES or structure texts); kwargs: those of :class:`sozai.models.GnnEnsemble` (``n_members``, ``hidden``,
    ``lr``, ``batch_size``, ``pretrained``, ...). Every round each party trains copies of the global members for
    ``local_epochs`` on its own rows (``proximal_mu`` > 0: FedProx, mu/2 |w - w_global|^2 added to the local
    loss, for parties whose data differ; ``server_momentum``/``server_lr``: FedAvgM's server optimiser), and the
    coordinator averages the row-weighted updates - through secure
    aggregation unless ``secure=False`` (updates in the clear: the cost baseline). Normalisation and variance
    recalibration are agreed by secure sums too (each party reveals only the power of 2 above its largest
    |target|). Differential privacy (party level): ``dp_clip`` > 0 clips each party's whole update to that L2
    norm and ``dp_noise_multiplier`` z adds Gaussian noise so the sum carries z * dp_clip; ``log["dp_epsilon"]``
    is the epsilon of all rounds at ``dp_delta``. Returns ``(model, log)``: ``model`` predicts like a GnnEnsemble; ``log`` holds
    ``round_seconds``, ``round_bytes``, ``round_update_norm``, ``round_loss`` (the parties' row-weighted local
    training loss), ``coordinator_bytes``, ``coordinator_received`` (every byte, with
    ``keep_messages=True``), ``clipped_entries``, ``max_quantisation_error`` and ``variance_scale``.

    Long simulations (hours on a few cores): ``checkpoint`` names a file written after a round every
    ``checkpoint_minutes`` and when the call stops after ``max_hours`` (0: no limit); calling again with the same
    arguments resumes from it and ends with the same model as an uninterrupted run (same machine and threads; with
    differential privacy or dropout, whose draws are fresh, another draw of the same training), and
    the file is removed when the run finishes. ``log["finished"]`` is False for a call that stopped early (the
    model is then the global one as it stands, its variances not recalibrated); ``log["resumed_rounds"]`` counts
    the rounds an earlier call ran. A checkpoint written for other settings or parties is refused (ValueError
    naming what differs), never overwritten.
    """
    from .models import GnnEnsemble

    like = GnnEnsemble(kind=kind, seed=seed, **kwargs)
    ps = []
    for p in parties:
        p = tuple(p)
        inputs = [str(x) for x in _frames.strings(p[0], "simulate: party inputs")]
        rest = tuple(None if v is None else _frames.to_array(v, "simulate: party data") for v in p[1:])
        ps.append((inputs,) + rest)
    return _c.federated_fit(like, ps, int(rounds), int(local_epochs), bool(secure), int(threshold),
                            float(update_clip), float(calibration_fraction), bool(keep_messages), float(proximal_mu),
                            float(dp_clip), float(dp_noise_multiplier), float(dp_delta), float(server_lr),
                            float(server_momentum), "" if checkpoint is None else os.fspath(checkpoint),
                            float(checkpoint_minutes), float(max_hours))


def _party(inputs, y, conditions=None):
    inputs = [str(x) for x in _frames.strings(inputs, "join: inputs")]
    y = _frames.to_array(y, "join: y")
    return (inputs, y) if conditions is None else (inputs, y, _frames.to_array(conditions, "join: conditions"))


class FederationService:
    """A federation's coordinator in this process: what ``sozai federate serve`` runs, without HTTP (the C++
    ``FederationService`` over the same SQLite store, so a store made here can be served and the other way round).

    >>> c = sozai.federated.FederationService("fed.db")                                   # doctest: +SKIP
    >>> fid = c.create_federation("steels", parties=3, kind="composition", rounds=20, n_members=5)  # doctest: +SKIP
    >>> party, token = c.create_party_token(fid)  # one per party; the token is shown once        # doctest: +SKIP

    Each party then runs :func:`join` with its token (``server`` this object, or the URL of
    ``sozai federate serve`` over the same store); its rows never leave its process. ``get_federation`` shows the
    progress; ``handle`` answers any route of the coordinator's HTTP API as (status, dict).
    """

    def __init__(self, db):
        self._s = _c.FederationService(str(db))

    def bootstrap_admin_token(self, preset=""):
        """The first admin token of a new store ("" when the store has tokens already)."""
        return self._s.bootstrap_admin_token(preset)

    def authenticate(self, authorization):
        """The Principal of an ``"Bearer <token>"`` value (LabError 401 when not a token)."""
        return self._s.authenticate(authorization)

    def create_federation(self, name, parties, kind, rounds=30, local_epochs=1, proximal_mu=0.0, secure=True,
                          threshold=0, update_clip=1.0, calibration_fraction=0.1, phase_timeout=600.0, seed=0,
                          dp_clip=0.0, dp_noise_multiplier=0.0, dp_delta=1e-5, server_lr=1.0, server_momentum=0.0,
                          **kwargs):
        """A federation of ``parties`` parties training a ``GnnEnsemble(kind=kind, seed=seed, **kwargs)`` for
        ``rounds`` FedAvg rounds (the training keywords as :func:`simulate`); a phase waits ``phase_timeout``
        seconds for late parties before closing without them. Returns its id."""
        from .models import GnnEnsemble

        like = GnnEnsemble(kind=kind, seed=seed, **kwargs)
        training = {"rounds": int(rounds), "local_epochs": int(local_epochs), "proximal_mu": float(proximal_mu),
                    "secure": bool(secure), "threshold": int(threshold), "update_clip": float(update_clip),
                    "calibration_fraction": float(calibration_fraction), "dp_clip": float(dp_clip),
                    "dp_noise_multiplier": float(dp_noise_multiplier), "dp_delta": float(dp_delta),
                    "server_lr": float(server_lr), "server_momentum": float(server_momentum)}
        return self._s.create_federation(str(name), int(parties), like, json.dumps(training), float(phase_timeout))

    def create_party_token(self, federation):
        """(party number, token) for the next party of the federation."""
        return tuple(self._s.create_party_token(federation))

    def handle(self, who, method, path, body=None, idempotency_key=""):
        """One request of the HTTP API (method, path as in /openapi.json): (status, dict)."""
        status, text = self._s.handle(who, method, path, "" if body is None else json.dumps(body), idempotency_key)
        return status, json.loads(text)

    def get_federation(self, who, federation):
        """Settings and progress of a federation (steps_done, finished, failed, bytes_received, party_tokens)."""
        return self.handle(who, "GET", "/v1/federations/" + federation)[1]


def join(server, token, federation, inputs, y, conditions=None, ca_cert="", wait=3600.0, poll=0.05, progress=True):
    """Trains as one party of a federation and returns ``(model, log)``: the federation's ensemble (the same
    in every party that finishes) and this party's log (``round_seconds``, ``round_bytes`` sent,
    ``coordinator_bytes`` = all it sent, ``variance_scale``, ...).

    server: the URL of ``sozai federate serve`` (``http://host:port`` or ``https://...``, checked against
    ``ca_cert`` or the system's CAs), or a :class:`FederationService` in this process. The settings (kind, members,
    rounds, ...) come from the coordinator; ``inputs``/``y``/``conditions`` are this party's rows and never
    leave this process - only masked updates (or, with ``secure=False``, clear ones) do. Retries while the
    coordinator is unreachable and waits for the other parties, up to ``wait`` seconds without progress.
    """
    party = _party(inputs, y, conditions)
    if isinstance(server, FederationService):
        return _c.join_local(server._s, token, federation, party, float(wait), float(poll), bool(progress))
    return _c.join_http(str(server), token, ca_cert or "", federation, party, float(wait), float(poll),
                        bool(progress))


def secure_sum(vectors, threshold, clip, drop_after_sharing=(), round=0, drop_after_masking=()):  # noqa: A002
    """Sum of the parties' vectors through the masked protocol.

    vectors: one sequence of floats per party (ids 1..n in order), entries
    clipped to [-clip, clip]; threshold: parties needed to unmask (t of n);
    drop_after_sharing: ids that share their keys, then vanish before sending
    their masked vector; drop_after_masking: ids that send their masked vector
    and vanish before the unmasking (their vector is in the sum). Returns a dict: ``sum`` (of the survivors' vectors),
    ``survivors``, ``coordinator_bytes`` (everything the coordinator
    received), ``plain_bytes`` (the same vectors sent in the clear) and
    ``max_quantisation_error`` (bound per entry of the sum). InputError when
    fewer than ``threshold`` parties survive.
    """
    vecs = [[float(x) for x in v] for v in vectors]
    return _c.secure_sum(vecs, int(threshold), float(clip), [int(d) for d in drop_after_sharing], int(round),
                         [int(d) for d in drop_after_masking])


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


__all__ = ["FederationService", "join", "FixedPoint", "simulate", "secure_sum", "shamir_split", "shamir_combine", "gaussian_privacy", "clip_and_noise"]
