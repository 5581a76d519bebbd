"""Shared start-up for the benchmark scripts: make the repo importable and configure Django."""
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent

MERCHANT_CODE = "bench"
OWNER_USERNAME = "bench_owner"
OWNER_PASSWORD = "bench12345"


def django_setup():
    """Configure Django from the environment (SECRET_KEY defaults to a bench-only value)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_times() -> list[int]:
    """The box's aggregate CPU jiffies from /proc/stat: user nice system idle iowait irq softirq steal."""
    with open("/proc/stat") as fh:
        return [int(v) for v in fh.readline().split()[1:9]]


def busy_and_steal(before: list[int], after: list[int]) -> tuple[float, float]:
    """Share of the box's CPU time that was busy (any process) and stolen by the hypervisor in between."""
    delta = [b - a for a, b in zip(before, after)]
    total = sum(delta) or 1
    idle = delta[3] + delta[4]
    return (total - idle - delta[7]) / total, delta[7] / total


# --- shared by the benchmarks that run servers and reset their own rows ---

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM the process's own session (it was started with start_new_session), SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def referencing(cur, table: str) -> list[tuple[str, str]]:
    cur.execute(
        """SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
           WHERE c.contype = 'f' AND c.confrelid = %s::regclass""", [table])
    return cur.fetchall()


def delete_tree(cur, table: str, where: str, params: list, depth: int = 0) -> None:
    """Delete the rows of `table` matching `where` and, first, every row referencing them (FK catalogue);
    far faster than the ORM's cascade, which loads every order before deleting it."""
    if depth > 8:
        raise RuntimeError(f"foreign keys nest deeper than expected under {table}")
    for child, column in referencing(cur, table):
        if child != table:
            delete_tree(cur, child, f"{column} IN (SELECT id FROM {table} WHERE {where})", params, depth + 1)
    cur.execute(f"DELETE FROM {table} WHERE {where}", params)


def pct(values, p):
    """Nearest-rank percentile."""
    values = sorted(values)
    if not values:
        return float("nan")
    return values[max(0, min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1))]


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def allow_outbound(port: int) -> None:
    """Let this process and the processes it starts from now on call the sandbox on this loopback port:
    outbound calls refuse loopback addresses not on OUTBOUND_ALLOWED_HOSTS (sync/http.py)."""
    from django.conf import settings

    address = f"127.0.0.1:{port}"
    settings.OUTBOUND_ALLOWED_HOSTS = [*settings.OUTBOUND_ALLOWED_HOSTS, address]
    os.environ["OUTBOUND_ALLOWED_HOSTS"] = ",".join(settings.OUTBOUND_ALLOWED_HOSTS)


def start_gunicorn(port: int, workers: int, threads: int, env: dict) -> subprocess.Popen:
    """gunicorn serving the app (and the sandbox marketplace) on a loopback port, once it answers; the bench
    process and the processes it starts later may call it (allow_outbound)."""
    allow_outbound(port)
    env = {**env, "OUTBOUND_ALLOWED_HOSTS": os.environ["OUTBOUND_ALLOWED_HOSTS"]}
    cmd = [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(workers), "--threads", str(threads),
           "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "120", "--keep-alive", "30"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}")
        try:
            # Without parameters the gateway answers TOP's "Missing Method" envelope: proof it is served.
            answer = requests.get(f"http://127.0.0.1:{port}/sandbox/top/router/rest", timeout=10)
            if answer.status_code == 200 and "error_response" in answer.text:
                return proc
            if answer.status_code == 404:
                stop_process(proc)
                sys.exit("the sandbox gateway answered 404: SANDBOX_ENABLED did not take")
        except requests.RequestException:
            pass  # still booting
        time.sleep(0.2)
    stop_process(proc)
    sys.exit("gunicorn did not answer within 60 s")

