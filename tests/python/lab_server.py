"""Starts and stops `sozai serve` for the tests and benchmarks."""

import os
import pathlib
import re
import signal
import socket
import subprocess
import time
import urllib.request


def send_raw(port, data, timeout=10.0, half_close=False):
    """Sends bytes on a new loopback connection and reads one answer:
    (status, head text, body). Status 0 when the server closed without an
    answer (a send or receive that fails after connecting counts as that);
    OSError when nothing listens. half_close: shut the sending side after
    the bytes, as a client that has said all it will."""
    head, body = b"", b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            head, _, body = got.partition(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.lower() == "content-length":
                    length = int(v)
            while len(body) < length:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        except OSError:
            pass
    if not head.startswith(b"HTTP/1.1 "):
        return 0, "", b""
    text = head.decode("latin-1")
    return int(text.split(" ")[1]), text, body


class LabServer:
    """A `sozai serve` process on a loopback port with its store in `db`
    (command ("federate", "serve"): a federation's coordinator). start()
    again after kill() reuses the port, as a restarted lab server would."""

    def __init__(self, cli, db, admin_token="test-admin-token-0123456789", extra=(), env=None, command=("serve",)):
        self.cli, self.db, self.admin_token, self.extra = str(cli), str(db), admin_token, list(extra)
        self.command = list(command)
        self.env = dict(os.environ, **(env or {}))
        if admin_token:
            self.env["SOZAI_ADMIN_TOKEN"] = admin_token
        self.port, self.proc, self.log = 0, None, pathlib.Path(str(db) + ".log")
        self.scheme = "https" if "--tls-cert" in self.extra else "http"

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout=30.0):
        log = open(self.log, "a")
        start_size = self.log.stat().st_size
        self.proc = subprocess.Popen([self.cli, *self.command, "--db", self.db, "--port", str(self.port), *self.extra],
                                     stdout=log, stderr=log, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log.read_text()[start_size:]
            m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", text)
            if m:
                self.port = int(m.group(1))
                return time.time()
            if self.proc.poll() is not None:
                raise RuntimeError(f"sozai serve exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.01)
        raise RuntimeError("sozai serve did not start:\n" + self.log.read_text()[start_size:])

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss_mib(self):
        """Resident memory of the server process, MiB (NaN when it is gone)."""
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
