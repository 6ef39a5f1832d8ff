"""Client of the smart-lab service (`sozai serve`).

>>> lab = sozai.lab.Client("http://127.0.0.1:8080", token)       # doctest: +SKIP
>>> cid = lab.create_campaign({"name": "films", "parameters": [...], "objectives": [...]})
>>> for e in lab.ask(cid, count=4, controller="robot-3"):
...     lab.report(cid, e["id"], {"yield": measure(e["parameters"])})

Every mutating call sends an Idempotency-Key and, when the connection
fails or the server answers 5xx, retries with the same key: the server
answers a repeat with its first answer, so a retried report is recorded
once. Errors the server refuses (4xx) raise LabError with its message.
"""

import http.client
import json
import ssl
import threading
import time
import urllib.parse
import uuid
import warnings

from ._sozai import lab as _lab

Principal = _lab.Principal
__all__ = ["Client", "LabError", "LabService", "Principal"]


class LabError(Exception):
    """A request the lab service refused: .status (HTTP) and .message."""

    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class LabService:
    """The service `sozai serve` runs, in-process and without HTTP (C++
    LabService over the same SQLite store): for notebooks, tools and tests.

    >>> svc = sozai.lab.LabService("lab.db")                           # doctest: +SKIP
    >>> admin = svc.authenticate("Bearer " + svc.bootstrap_admin_token())
    >>> cid = svc.create_campaign(admin, {...})["id"]
    >>> svc.ask(admin, cid, {"count": 2})["experiments"]

    Bodies are dicts; answers are dicts (CSV text for export(format="csv"));
    a refused request raises LabError(status, message). limits: keyword
    arguments as `sozai serve`'s limit flags (max_ask_count=100,
    max_lease_seconds, max_leased, max_parameters, max_pool_rows,
    max_campaigns, max_note_bytes, max_name_bytes, idempotency_ttl_seconds,
    max_page, warm_engines)."""

    def __init__(self, db, **limits):
        self._s = _lab.LabService(str(db), json.dumps(limits) if limits else "")

    @property
    def limits(self):
        """Every limit in force, defaults filled in."""
        return json.loads(self._s.limits())

    def health(self):
        """"" while the store's files are sound, else why it must not be served."""
        return self._s.health()

    @staticmethod
    def check_store(db):
        """Checks a store offline (as `sozai serve --check`): (ok, report text)."""
        return _lab.LabService.check_store(str(db))

    def create_token(self, role, campaign=""):
        return self._s.create_token(role, campaign or "")

    def bootstrap_admin_token(self, preset=""):
        return self._s.bootstrap_admin_token(preset)

    def authenticate(self, authorization):
        return self._s.authenticate(authorization)

    @staticmethod
    def _answer(pair):
        status, text = pair
        try:
            return json.loads(text)
        except ValueError:
            return text

    def create_campaign(self, who, description, idempotency_key=""):
        return self._answer(self._s.create_campaign(who, json.dumps(description, allow_nan=False), idempotency_key))

    def list_campaigns(self, who):
        """Every campaign the token may see (all pages)."""
        out, after = [], ""
        while True:
            page = self._answer(self._s.list_campaigns(who, after))
            out += page["campaigns"]
            if page.get("next_after") is None:
                return out
            after = page["next_after"]

    def get_campaign(self, who, campaign_id):
        return self._answer(self._s.get_campaign(who, campaign_id))

    def ask(self, who, campaign_id, body=None, idempotency_key=""):
        return self._answer(self._s.ask(who, campaign_id, json.dumps(body or {}), idempotency_key))

    def report(self, who, campaign_id, experiment_id, body, idempotency_key=""):
        return self._answer(self._s.report(who, campaign_id, str(experiment_id), json.dumps(body, allow_nan=False),
                                           idempotency_key))

    def cancel(self, who, campaign_id, experiment_id, idempotency_key=""):
        return self._answer(self._s.cancel(who, campaign_id, str(experiment_id), idempotency_key))

    def list_experiments(self, who, campaign_id, state=""):
        """Every experiment (of one state), in id order (all pages)."""
        out, after = [], ""
        while True:
            page = self._answer(self._s.list_experiments(who, campaign_id, state or "", str(after)))
            out += page["experiments"]
            if page.get("next_after") is None:
                return out
            after = page["next_after"]

    def list_results(self, who, campaign_id, after=0, limit=None):
        """One page of results in the order they arrived, after result number
        `after`: {"results", "last", "next_after"}."""
        return self._answer(self._s.list_results(who, campaign_id, str(after), "" if limit is None else str(limit)))

    def export_campaign(self, who, campaign_id, format="json"):
        out = self._answer(self._s.export_campaign(who, campaign_id, format))
        return out if format == "csv" else out["experiments"]

    def export_frame(self, who, campaign_id):
        """Every experiment ever proposed as a pandas DataFrame (see Client.export_frame)."""
        return _export_frame(self.export_campaign(who, campaign_id, format="csv"))


class Client:
    """HTTP client of one lab service, safe to share between threads.

    url: "http://host:port" or "https://..."; token: bearer token; retries:
    attempts after a connection error or 5xx (with backoff); verify: check
    TLS certificates (a path to a CA file, True or False); keep_alive: one
    persistent connection per thread (reopened after an error) instead of
    one per call."""

    def __init__(self, url, token, timeout=60.0, retries=5, backoff=0.2, verify=True, keep_alive=False):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"lab url must be http(s)://host:port, got {url!r}")
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout
        self.retries, self.backoff = retries, backoff
        self._https = u.scheme == "https"
        self.keep_alive = keep_alive
        self._local = threading.local()
        self._host, self._port = u.hostname, u.port or (443 if self._https else 80)
        if self._https:
            if verify is False:
                self._ssl = ssl._create_unverified_context()
            elif isinstance(verify, str):
                self._ssl = ssl.create_default_context(cafile=verify)
            else:
                self._ssl = ssl.create_default_context()

    # ------------------------------------------------------------ transport
    def _connection(self):
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def request(self, method, path, body=None, idempotency_key=None, raw=False):
        """One API call; returns the parsed JSON (or text when raw). Mutating
        calls get an Idempotency-Key (a new one unless given) and are retried
        with it."""
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
            headers["Content-Type"] = "application/json"
            data = json.dumps({} if body is None else body, allow_nan=False)
        attempt = 0
        while True:
            try:
                conn = getattr(self._local, "conn", None) if self.keep_alive else None
                fresh = conn is None
                if fresh:
                    conn = self._connection()
                reusable = False
                try:
                    conn.request(method, path, body=data, headers=headers)
                    resp = conn.getresponse()
                    status, text = resp.status, resp.read().decode("utf-8")
                    reusable = self.keep_alive and not resp.will_close
                except (OSError, http.client.HTTPException):
                    if not fresh:
                        # A kept-alive connection the server had closed: reopen
                        # at once (the request carries its Idempotency-Key).
                        continue
                    raise
                finally:
                    if reusable:
                        self._local.conn = conn
                    else:
                        conn.close()
                        if self.keep_alive:
                            self._local.conn = None
                if status >= 500 and attempt < self.retries:
                    raise ConnectionError(f"server error {status}")
            except (OSError, http.client.HTTPException) as err:
                if attempt >= self.retries:
                    raise
                attempt += 1
                time.sleep(self.backoff * 2 ** min(attempt - 1, 5))
                continue
            if status >= 400:
                try:
                    message = json.loads(text).get("error", text)
                except ValueError:
                    message = text
                raise LabError(status, message)
            return text if raw else json.loads(text)

    # ------------------------------------------------------------ API
    def healthz(self):
        return self.request("GET", "/healthz")

    def openapi(self):
        return self.request("GET", "/openapi.json")

    def create_campaign(self, description, idempotency_key=None):
        """Creates a campaign (admin token); returns its id."""
        return self.request("POST", "/v1/campaigns", description, idempotency_key)["id"]

    def list_campaigns(self):
        """Every campaign the token may see (follows the pages)."""
        out, q = [], ""
        while True:
            page = self.request("GET", f"/v1/campaigns{q}")
            out += page["campaigns"]
            if page.get("next_after") is None:
                return out
            q = "?after=" + urllib.parse.quote(page["next_after"])

    def get_campaign(self, campaign_id):
        """Counts per state, best so far, settings."""
        return self.request("GET", f"/v1/campaigns/{campaign_id}")

    def ask(self, campaign_id, count=1, lease_seconds=3600, controller=None, idempotency_key=None):
        """Leases up to `count` experiments: [{"id", "parameters", "lease_expires_at"}]."""
        body = {"count": count, "lease_seconds": lease_seconds}
        if controller is not None:
            body["controller"] = controller
        return self.request("POST", f"/v1/campaigns/{campaign_id}/ask", body, idempotency_key)["experiments"]

    def report(self, campaign_id, experiment_id, values=None, status="completed", note=None, idempotency_key=None):
        """Reports a result: values {objective: number}; status "failed" for
        an experiment that could not be made or measured."""
        body = {"status": status}
        if values is not None:
            body["values"] = values
        if note is not None:
            body["note"] = note
        return self.request("POST", f"/v1/campaigns/{campaign_id}/experiments/{experiment_id}/result", body,
                            idempotency_key)

    def cancel(self, campaign_id, experiment_id, idempotency_key=None):
        return self.request("POST", f"/v1/campaigns/{campaign_id}/experiments/{experiment_id}/cancel", {},
                            idempotency_key)

    def list_experiments(self, campaign_id, state=None):
        """Every experiment (of one state), in id order (follows the pages)."""
        out, after = [], 0
        while True:
            q = f"?after={after}" + (f"&state={urllib.parse.quote(state)}" if state else "")
            page = self.request("GET", f"/v1/campaigns/{campaign_id}/experiments{q}")
            out += page["experiments"]
            if page.get("next_after") is None:
                return out
            after = page["next_after"]

    def list_results(self, campaign_id, after=0, limit=None):
        """One page of results in the order they arrived, after result number
        `after`: {"results", "last", "next_after"}; poll with after=last."""
        q = f"?after={int(after)}" + (f"&limit={int(limit)}" if limit else "")
        return self.request("GET", f"/v1/campaigns/{campaign_id}/results{q}")

    def export_campaign(self, campaign_id, format="json"):
        """Every experiment ever proposed: a list of dicts, or CSV text."""
        if format == "csv":
            return self.request("GET", f"/v1/campaigns/{campaign_id}/export?format=csv", raw=True)
        return self.request("GET", f"/v1/campaigns/{campaign_id}/export")["experiments"]

    def export_frame(self, campaign_id):
        """Every experiment ever proposed as a pandas DataFrame indexed by experiment id: status, controller,
        times, one column per parameter and objective (empty values of failed or pending experiments as NaN;
        text such as a choice label "NA" kept as text), note."""
        return _export_frame(self.export_campaign(campaign_id, format="csv"))

    def create_token(self, role, campaign=None, idempotency_key=None):
        body = {"role": role}
        if campaign:
            body["campaign"] = campaign
        return self.request("POST", "/v1/tokens", body, idempotency_key)["token"]


def _export_frame(csv_text):
    import io

    import pandas as pd
    # Only an empty field is missing: a label such as "NA" or "null" is a label.
    # round_trip: the exported digits give back the very doubles the store holds.
    return pd.read_csv(io.StringIO(csv_text), index_col="id", keep_default_na=False, na_values=[""],
                       float_precision="round_trip")


def _renamed(cls, old, new):
    """Keeps the name an earlier version (and its README) used, with a warning."""
    def alias(self, *args, **kwargs):
        warnings.warn(f"sozai.lab.{cls.__name__}.{old} is deprecated: use {new} (the C++ name)", DeprecationWarning,
                      stacklevel=2)
        return getattr(self, new)(*args, **kwargs)
    alias.__name__ = old
    alias.__doc__ = f"Deprecated: {new}."
    setattr(cls, old, alias)


for _cls in (LabService, Client):
    for _old, _new in (("campaigns", "list_campaigns"), ("campaign", "get_campaign"),
                       ("experiments", "list_experiments"), ("export", "export_campaign")):
        _renamed(_cls, _old, _new)
