"""Servers for the serve tests, started and stopped so that none outlives its test.

Every ``chord serve`` starts in its own session (``start_new_session``), so its process group holds
the uvicorn supervisor and all of its workers; stopping sends SIGTERM to the whole group, then
SIGKILL to whatever is left after the grace time. A leak check runs after every test: a group
started by the test (or by a fixture torn down with it) that still has a live process fails the
test (after killing it), and at the end of the module no group may be left at all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest


def group_members(pgid: int) -> list[int]:
    """PIDs of the live (not zombie) processes in process group ``pgid`` (Linux /proc)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state, fields[2] the process group (stat(5), counting from "state")
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(name))
    return out


class ServerProcesses:
    """Every ``chord serve`` a test module starts; ``owned`` are the ones a live fixture keeps."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []
        self.owned: set[int] = set()

    def start(
        self, port: int, *extra: str, tiny: bool = True, timeout: float = 60.0, env: dict | None = None
    ) -> subprocess.Popen:
        """``chord serve --random`` on ``port`` with ``extra`` options (tiny: a small planner);
        env: variables added to the server's environment."""
        args = [sys.executable, "-m", "chord", "serve", "--random", "--port", str(port), "--threads", "1", *extra]
        if tiny:
            args += ["--num-items", "50", "--dim", "16", "--blocks", "1", "--seed", "3"]
        # the log goes to a file, not a pipe nobody reads (a full pipe would block the server)
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})}
        )
        proc.log = log
        self.started.append(proc)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                self.stop(proc)
                raise AssertionError(f"chord serve exited {proc.returncode}: {self.log_tail(proc)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return proc
            except OSError:
                time.sleep(0.2)
        self.stop(proc)
        raise AssertionError(f"chord serve did not come up within {timeout:.0f} s: {self.log_tail(proc)}")

    @staticmethod
    def log_tail(proc: subprocess.Popen, n: int = 2000) -> str:
        proc.log.seek(0)
        return proc.log.read().decode(errors="replace")[-n:]

    def stop(self, proc: subprocess.Popen, grace: float = 20.0) -> None:
        """SIGTERM the server's whole process group, wait, then SIGKILL what is left."""
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill_group(proc)

    def kill_group(self, proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        deadline = time.time() + 5
        while group_members(proc.pid) and time.time() < deadline:
            time.sleep(0.05)

    def leaked(self) -> list[subprocess.Popen]:
        """Servers not owned by a live fixture whose process group still has a live process."""
        return [p for p in self.started if p.pid not in self.owned and group_members(p.pid)]


@pytest.fixture(scope="module")
def servers():
    s = ServerProcesses()
    yield s
    left = [p for p in s.started if group_members(p.pid)]
    for p in left:
        s.kill_group(p)
    assert not left, f"chord serve process groups still alive at the end of the module: {[p.pid for p in left]}"


@pytest.fixture(autouse=True)
def no_leaked_server(request):
    """After each test: no server it started (outside a live fixture) may still be running."""
    yield
    if "servers" not in request.fixturenames:
        return
    s = request.getfixturevalue("servers")
    left = s.leaked()
    for p in left:
        s.kill_group(p)
    assert not left, f"the test left chord serve running: process groups {[p.pid for p in left]}"
