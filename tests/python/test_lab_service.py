"""The lab service in-process from Python (sozai.lab.LabService): the same
store the HTTP server uses, the same refusals."""

import numpy as np
import pytest

import sozai
from sozai.lab import LabError, LabService

SPACE = {"name": "films", "parameters": [{"name": "T", "type": "continuous", "low": 0, "high": 1}],
         "objectives": [{"name": "y", "direction": "minimize"}], "n_init": 3}


def test_in_process_service_round_trip(tmp_path):
    svc = LabService(tmp_path / "lab.db")
    admin = svc.authenticate("Bearer " + svc.bootstrap_admin_token())
    assert admin.role == "admin"
    cid = svc.create_campaign(admin, SPACE)["id"]
    for _ in range(3):
        for e in svc.ask(admin, cid, {"count": 2, "controller": "nb"})["experiments"]:
            svc.report(admin, cid, e["id"], {"values": {"y": (e["parameters"]["T"] - 0.4) ** 2}})
    c = svc.get_campaign(admin, cid)
    assert c["counts"]["completed"] == 6 and c["best"]["values"]["y"] == min(
        e["values"]["y"] for e in svc.export_campaign(admin, cid))
    assert svc.export_campaign(admin, cid, format="csv").startswith("id,status,controller")
    frame = svc.export_frame(admin, cid)
    assert len(frame) == 6 and (frame["status"] == "completed").all()
    assert list(frame["T"]) == [e["parameters"]["T"] for e in svc.export_campaign(admin, cid)]
    viewer = svc.authenticate("Bearer " + svc.create_token("viewer", cid))
    with pytest.raises(LabError) as err:
        svc.ask(viewer, cid)
    assert err.value.status == 403
    with pytest.raises(LabError) as err:
        svc.report(admin, cid, 1, {"values": {"y": "low"}})
    assert err.value.status == 400 and "'y' must be a number" in err.value.message
    with pytest.raises(LabError) as err:
        svc.authenticate("Bearer nope")
    assert err.value.status == 401
    # The same store from a second service object (another process would see the same).
    again = LabService(tmp_path / "lab.db")
    assert len(again.list_experiments(admin, cid, "completed")) == 6


def test_python_and_cpp_share_the_lab_method_names(tmp_path):
    from sozai._sozai import lab as _lab
    api = {n for n in dir(_lab.LabService) if not n.startswith("_")}
    assert {"create_campaign", "list_campaigns", "get_campaign", "ask", "report", "cancel", "list_experiments",
            "export_campaign", "create_token"} <= api
    for name in api:
        assert hasattr(sozai.lab.LabService, name), name
        # The server's side of a token, and of its store and limits.
        if name not in ("bootstrap_admin_token", "authenticate", "health", "check_store", "limits"):
            assert hasattr(sozai.lab.Client, name), name
    # The names of the previous version still work, with a warning.
    svc = sozai.lab.LabService(str(tmp_path / "lab.db"))
    admin = svc.authenticate("Bearer " + svc.bootstrap_admin_token())
    with pytest.warns(DeprecationWarning, match="use list_campaigns"):
        assert svc.campaigns(admin) == []


def test_limits_checksums_and_pages_in_process(tmp_path):
    import sqlite3
    svc = LabService(tmp_path / "lab.db", max_ask_count=3, max_note_bytes=8, max_page=2)
    assert svc.limits["max_ask_count"] == 3 and svc.limits["max_leased"] == 1000  # the rest: defaults
    with pytest.raises(Exception, match="max_asks"):
        LabService(tmp_path / "other.db", max_asks=3)
    admin = svc.authenticate("Bearer " + svc.bootstrap_admin_token())
    cid = svc.create_campaign(admin, dict(SPACE, n_init=20))["id"]
    with pytest.raises(LabError) as err:
        svc.ask(admin, cid, {"count": 4})
    assert err.value.status == 400
    ids = [e["id"] for e in svc.ask(admin, cid, {"count": 3})["experiments"]]
    with pytest.raises(LabError) as err:
        svc.report(admin, cid, ids[0], {"values": {"y": 1.0}, "note": "123456789"})
    assert err.value.status == 400 and "note" in err.value.message
    for eid in reversed(ids):
        svc.report(admin, cid, eid, {"values": {"y": float(eid)}})
    assert [e["id"] for e in svc.list_experiments(admin, cid)] == ids  # all pages of 2
    page = svc.list_results(admin, cid, after=0)
    assert [r["id"] for r in page["results"]] == list(reversed(ids))[:2] and page["next_after"] == 2
    assert [r["id"] for r in svc.list_results(admin, cid, after=page["last"])["results"]] == [ids[0]]
    # A scope that means nothing is refused.
    with pytest.raises(Exception, match="cannot be limited"):
        svc.create_token("admin", cid)
    assert svc.health() == "" and LabService.check_store(tmp_path / "lab.db")[0]
    con = sqlite3.connect(tmp_path / "lab.db")
    con.execute("UPDATE experiments SET vals = '{\"y\": 7.0}' WHERE id = ?", (ids[1],))
    con.commit()
    con.close()
    ok, report = LabService.check_store(tmp_path / "lab.db")
    assert not ok and f"experiment {ids[1]} of campaign {cid} fails its checksum" in report
    with pytest.raises(Exception, match="fails its checksum"):
        svc.list_experiments(admin, cid)


def test_export_frame_keeps_labels_that_look_missing(tmp_path):
    svc = LabService(tmp_path / "lab.db")
    admin = svc.authenticate("Bearer " + svc.bootstrap_admin_token())
    space = {"name": "labels", "parameters": [{"name": "T", "type": "continuous", "low": 0, "high": 1},
                                              {"name": "route", "type": "categorical", "choices": ["NA", "null"]}],
             "objectives": [{"name": "y", "direction": "minimize"}], "n_init": 3}
    cid = svc.create_campaign(admin, space)["id"]
    first, second = svc.ask(admin, cid, {"count": 2})["experiments"]
    svc.report(admin, cid, first["id"], {"values": {"y": 1.5}})
    svc.report(admin, cid, second["id"], {"status": "failed", "note": "cracked, \"badly\""})
    frame = svc.export_frame(admin, cid)
    assert set(frame["route"]) <= {"NA", "null"} and frame["route"].notna().all()
    assert frame.loc[first["id"], "y"] == 1.5 and np.isnan(frame.loc[second["id"], "y"])
    assert frame.loc[second["id"], "note"] == 'cracked, "badly"'


def test_warm_engines_propose_what_rebuilt_ones_do(tmp_path):
    """The service keeps a campaign's engine between asks (warm_engines, least recently used out); the
    proposals are those of a service started afresh for every call, and of one keeping a single engine for two
    campaigns asked in turn."""
    def rounds(service_for, admin, cid, n):
        out = []
        for _ in range(n):
            e = service_for().ask(admin, cid, {"count": 1})["experiments"][0]
            out.append(e["parameters"])
            service_for().report(admin, cid, e["id"], {"values": {"y": (e["parameters"]["T"] - 0.4) ** 2}})
        return out

    spec = dict(SPACE, seed=5)
    warm = LabService(tmp_path / "warm.db")
    assert warm.limits["warm_engines"] == 16
    admin = warm.authenticate("Bearer " + warm.bootstrap_admin_token())
    kept = rounds(lambda: warm, admin, warm.create_campaign(admin, spec)["id"], 6)
    cold_db = tmp_path / "cold.db"
    cold = LabService(cold_db)
    admin_c = cold.authenticate("Bearer " + cold.bootstrap_admin_token())
    rebuilt = rounds(lambda: LabService(cold_db), admin_c, cold.create_campaign(admin_c, spec)["id"], 6)
    assert kept == rebuilt
    one = LabService(tmp_path / "one.db", warm_engines=1)
    admin_1 = one.authenticate("Bearer " + one.bootstrap_admin_token())
    a, b = one.create_campaign(admin_1, spec)["id"], one.create_campaign(admin_1, spec)["id"]
    turns = [(rounds(lambda: one, admin_1, a, 1)[0], rounds(lambda: one, admin_1, b, 1)[0]) for _ in range(6)]
    assert [t[0] for t in turns] == kept and [t[1] for t in turns] == kept
    with pytest.raises(Exception, match="warm_engines"):
        LabService(tmp_path / "zero.db", warm_engines=0)
