"""``chord serve --workers N`` on Linux: N uvicorn worker processes, each with its own listening
socket on the same port (``SO_REUSEPORT``), under a small supervisor.

Why not uvicorn's own ``--workers``: its workers share one listening socket, and each worker's
event loop accepts every pending connection when it wakes (asyncio's accept loop takes up to the
backlog at once). A burst of new keep-alive connections lands mostly on whichever worker woke
first (measured: 16 of 16, 45 of 64), and since a connection stays with its worker, one worker
plans twice the other's load: its batches queue while the other idles. With one socket per
worker in a ``SO_REUSEPORT`` group the kernel hashes each connection to a socket, spreading them
evenly. Each worker is uvicorn's ``Server.run(sockets=...)`` (the entry point uvicorn keeps for
external process managers); the supervisor only starts the workers, forwards SIGTERM/SIGINT,
restarts a worker that dies after it was up, and removes the shared metrics directory.

The sockets are made here, before the workers start, so the port is taken at once and a
connection that arrives while a worker is still loading waits in that worker's queue.

This module imports nothing of chord at its top, so ``chord serve`` runs the supervisor as this
file by path (``supervise``: the CLI process is replaced by ``python -I workers.py --supervise``),
and the supervisor does not keep torch and all of chord resident for nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

#: environment variable naming the shared metrics directory of a multi-worker server
METRICS_DIR_ENV = "CHORD_SERVE_METRICS_DIR"
#: a worker that dies sooner than this after it started is not restarted: the server stops
#: (a bad checkpoint or a taken port would otherwise restart forever)
MIN_UPTIME_S = 10.0


def uvicorn_settings(http: str = "auto", graceful_s: float = 10.0) -> dict:
    """The uvicorn settings of every ``chord serve`` worker (``uvicorn.run`` or ``uvicorn.Config``)."""
    return {
        "app": "chord.serve.app:app_from_env",
        "factory": True,
        "http": http,
        "timeout_graceful_shutdown": graceful_s,
        "log_level": "warning",
        "access_log": False,
    }


def reuseport_supported() -> bool:
    """SO_REUSEPORT balances connections across sockets on Linux only (BSD/macOS: no balancing)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _check_free(host: str, port: int) -> None:
    """Raise OSError when something listens on host:port already. SO_REUSEPORT would let this
    server join another one's group (any process of the same user), and the kernel would then
    split the connections between two servers, possibly of different models."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
        probe.bind((host, port))


def _listener(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def serve_workers(n: int, host: str, port: int, *, http: str = "auto", graceful_s: float = 10.0) -> int:
    """Run ``n`` workers of ``chord.serve.app:app_from_env`` (settings in its environment
    variable, set by ``chord serve``) on host:port until SIGTERM/SIGINT; returns the exit code."""
    try:
        _check_free(host, port)
        socks = [_listener(host, port) for _ in range(n)]
    except OSError as e:
        print(f"chord serve: cannot listen on {host}:{port}: {e}", file=sys.stderr)
        return 2
    metrics_dir = tempfile.mkdtemp(prefix="chord-serve-metrics-")
    env = {**os.environ, METRICS_DIR_ENV: metrics_dir}
    stop = threading.Event()

    def start(sock: socket.socket) -> tuple[subprocess.Popen, float]:
        cmd = [sys.executable, "-m", "chord.serve.workers", "--fd", str(sock.fileno())]
        cmd += ["--http", http, "--graceful-s", str(graceful_s)]
        return subprocess.Popen(cmd, pass_fds=[sock.fileno()], env=env), time.monotonic()

    def on_signal(signum, frame):
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    procs = [start(s) for s in socks]
    code = 0
    try:
        while not stop.wait(0.2):
            for i, (proc, since) in enumerate(procs):
                if proc.poll() is None:
                    continue
                if time.monotonic() - since < MIN_UPTIME_S:
                    print(f"chord serve: worker {proc.pid} exited {proc.returncode} while starting", file=sys.stderr)
                    code = 1
                    stop.set()
                    break
                print(f"chord serve: worker {proc.pid} exited {proc.returncode}; starting another", file=sys.stderr)
                procs[i] = start(socks[i])
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # uvicorn: stop accepting, finish in-flight, drain
        deadline = time.monotonic() + graceful_s + 10.0
        for proc, _ in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for s in socks:
            s.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        for s, h in old.items():
            signal.signal(s, h)
    return code


def supervise(n: int, host: str, port: int, *, http: str = "auto", graceful_s: float = 10.0) -> int:
    """``serve_workers`` in this process's place: exec ``python -I <this file> --supervise``
    (same pid, same environment; ``-I``: the stdlib only, nothing from the working directory).
    Returns only when the exec fails (then it runs the supervisor here)."""
    argv = [sys.executable, "-I", os.path.abspath(__file__), "--supervise", "--workers", str(n)]
    argv += ["--host", host, "--port", str(port), "--http", http, "--graceful-s", str(graceful_s)]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, argv)
    except OSError as e:
        print(f"chord serve: could not start a separate supervisor ({e}); supervising from here", file=sys.stderr)
    return serve_workers(n, host, port, http=http, graceful_s=graceful_s)


def _exit_with_parent() -> None:
    """Stop this worker (gracefully) if the supervisor disappears without telling it (SIGKILL),
    and remove the metrics directory it can no longer remove."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        if os.environ.get(METRICS_DIR_ENV):
            shutil.rmtree(os.environ[METRICS_DIR_ENV], ignore_errors=True)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="chord-parent-watch").start()


def main(argv=None) -> int:
    """``--fd N``: one worker, uvicorn on the inherited listening socket; ``--supervise``: the
    supervisor of ``--workers`` such workers on ``--host``/``--port``."""
    p = argparse.ArgumentParser(prog="python -m chord.serve.workers")
    p.add_argument("--fd", type=int, default=None)
    p.add_argument("--supervise", action="store_true")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--http", default="auto")
    p.add_argument("--graceful-s", type=float, default=10.0)
    args = p.parse_args(argv)
    if args.supervise:
        return serve_workers(args.workers, args.host, args.port, http=args.http, graceful_s=args.graceful_s)
    if args.fd is None:
        p.error("expected --fd (a worker) or --supervise")
    import uvicorn

    sock = socket.socket(fileno=args.fd)
    _exit_with_parent()
    uvicorn.Server(uvicorn.Config(**uvicorn_settings(args.http, args.graceful_s))).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
