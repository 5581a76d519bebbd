"""The production recipe (docs/deploy.md, deploy/) works as written: the documented environment makes
`check --deploy` clean and names every setting; the units' own commands start gunicorn and a worker that
answer /healthz and /readyz; /readyz names Redis when it is unreachable; a worker told to stop by SIGTERM
finishes the job it runs first."""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
from rq import Queue, Worker

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
VENV_BIN = "/opt/merchant-hub/.venv/bin/"
START_SECONDS = 90  # Django's import and checks on a busy 2-core machine


def env_file(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of a systemd EnvironmentFile (comments and blanks skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _sep, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def unit(name: str) -> dict[str, list[str]]:
    """Each key of a unit file with its values in order (ExecStartPre may repeat)."""
    found: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _sep, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def command(line: str, instance: str = "") -> list[str]:
    """A unit's Exec line as this machine runs it: the venv's programs, the instance name, `$$` unescaped."""
    line = line.replace(VENV_BIN + "python", sys.executable)
    line = line.replace(VENV_BIN, str(Path(sys.executable).parent) + "/")
    return shlex.split(line.replace("%i", instance).replace("$$", "$"))


def documented_env(tmp_path: Path, **overrides) -> dict[str, str]:
    """Only what a unit's process gets: the example environment file filled in, on this machine's paths."""
    env = env_file(DEPLOY / "merchant-hub.env.example")
    env.update(
        PATH=os.environ["PATH"], HOME=str(tmp_path), LANG="C.UTF-8",
        SECRET_KEY="deploy-test-" + "Zq8xR2mV" * 8, FIELD_ENCRYPTION_KEY="",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL=os.environ["REDIS_URL"],
        STATIC_ROOT=str(tmp_path / "static"), MEDIA_ROOT=str(tmp_path / "media"),
        WEB_CONCURRENCY="1", WEB_THREADS="2",
    )
    env.update(overrides)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_until(predicate, what: str, process=None, timeout: float = START_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def _listening(port: int):
    def check():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    return check


class Processes:
    """Processes started from the units' commands, stopped (SIGTERM, then SIGKILL) at the end."""

    def __init__(self):
        self.started = []

    def start(self, argv, env, log: Path | None = None):
        output = log.open("wb") if log else subprocess.DEVNULL
        process = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True,
                                   stdout=output, stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def stop(self):
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def processes():
    found = Processes()
    yield found
    found.stop()


def _run(line: str, env) -> None:
    result = subprocess.run(command(line), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _web(processes, env, log: Path | None = None):
    web = unit("merchant-hub-web.service")
    for line in web["ExecStartPre"]:
        _run(line, env)
    return processes.start(command(web["ExecStart"][0]), env, log)


def test_check_deploy_is_clean_with_the_documented_environment(tmp_path):
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=documented_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_environment_file_names_every_setting_and_no_secret(tmp_path):
    settings_source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'(?:environ\.get|env_bool|env_list)\("([A-Z_]+)"', settings_source))
    example = (DEPLOY / "merchant-hub.env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z_]+)=", example, re.MULTILINE))
    assert read - named == set()
    documented = env_file(DEPLOY / "merchant-hub.env.example")
    assert documented["SECRET_KEY"] == "" and documented["DEBUG"] == "0"  # left empty, nothing starts
    assert documented["SANDBOX_ENABLED"] == "0"


def test_worker_units_wait_for_the_longest_job_and_signal_only_the_worker():
    from django.conf import settings

    worker = unit("merchant-hub-worker@.service")
    assert worker["KillSignal"] == ["SIGTERM"] and worker["KillMode"] == ["mixed"]
    # RQ lets a job run 60 s past its limit before killing it.
    assert int(worker["TimeoutStopSec"][0]) >= max(settings.SYNC_JOB_TIMEOUT, settings.IMPORT_JOB_TIMEOUT) + 60
    assert unit("merchant-hub-scheduler.service")["ExecStart"] == [VENV_BIN + "python manage.py scheduler"]
    assert unit("merchant-hub-consumer.service")["ExecStart"] == [VENV_BIN + "python manage.py messages_consume"]


def test_the_recipe_runs_web_and_a_worker_that_answer_the_probes(tmp_path, processes):
    env = documented_env(tmp_path, WEB_BIND=f"127.0.0.1:{(port := _free_port())}")
    _run(unit("merchant-hub-migrate.service")["ExecStart"][0], env)
    web_log = tmp_path / "web.log"
    web = _web(processes, env, web_log)
    worker = processes.start(command(unit("merchant-hub-worker@.service")["ExecStart"][0], "sync-1"), env)

    _wait_until(_listening(port), "gunicorn listening", web)
    assert (tmp_path / "static" / "admin").is_dir()  # collectstatic ran before the web server
    # The probe calls the node's address over plain HTTP, although the settings redirect and name one host.
    assert _get(f"http://127.0.0.1:{port}/healthz") == (200, b"ok")
    status, body = _get(f"http://127.0.0.1:{port}/readyz")
    assert status == 200, body
    assert json.loads(body) == {"status": "ok", "down": [], "checks": {
        "database": "ok", "redis": "ok", "migrations": "ok", "scheduler": "unknown"}}
    # Anything else still goes to HTTPS.
    login = urllib.request.Request(f"http://127.0.0.1:{port}/login/", headers={"Host": "hub.example.com"})
    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(NoRedirect).open(login, timeout=10)
    assert redirect.value.code == 301 and redirect.value.headers["Location"].startswith("https://hub.example.com/")

    # The proxy's request id comes back, and gunicorn's access line names it.
    traced = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-Id": "probe-7"})
    with urllib.request.urlopen(traced, timeout=10) as response:
        assert response.headers["X-Request-Id"] == "probe-7"
    _wait_until(lambda: "rid=probe-7" in web_log.read_text(), "the access line with the request id", web)
    # LOG_FORMAT=json: gunicorn's lines and the app's are all JSON objects.
    lines = [json.loads(line) for line in web_log.read_text().splitlines() if line.strip()]
    assert {"gunicorn.error", "gunicorn.access"} <= {line["logger"] for line in lines}

    connection = redis.Redis.from_url(env["REDIS_URL"])

    def serving_sync_line():
        return any(w.queue_names() == ["default", "sync"] for w in Worker.all(connection=connection))

    _wait_until(serving_sync_line, "the sync-1 worker registered on default and sync", worker)


def test_readyz_names_redis_when_it_is_unreachable(tmp_path, processes):
    closed = _free_port()
    env = documented_env(tmp_path, WEB_BIND=f"127.0.0.1:{(port := _free_port())}",
                         REDIS_URL=f"redis://127.0.0.1:{closed}/0")
    _run(unit("merchant-hub-migrate.service")["ExecStart"][0], env)
    web = _web(processes, env)
    _wait_until(_listening(port), "gunicorn listening", web)
    assert _get(f"http://127.0.0.1:{port}/healthz") == (200, b"ok")
    status, body = _get(f"http://127.0.0.1:{port}/readyz")
    assert status == 503
    answer = json.loads(body)
    assert answer["down"] == ["redis"] and answer["checks"]["database"] == "ok"
    assert str(closed).encode() not in body


def test_sigterm_lets_the_worker_finish_the_running_job(tmp_path, processes):
    env = documented_env(tmp_path)
    connection = redis.Redis.from_url(env["REDIS_URL"])
    queue = Queue("sync", connection=connection)
    queue.empty()
    job = queue.enqueue("tests.deploy_jobs.job_until_released", str(tmp_path), job_timeout=120)
    _run(unit("merchant-hub-migrate.service")["ExecStart"][0], env)
    log = tmp_path / "worker.log"
    worker = processes.start(command(unit("merchant-hub-worker@.service")["ExecStart"][0], "sync-1"), env, log)
    _wait_until((tmp_path / "started").exists, "the job started", worker)

    worker.send_signal(signal.SIGTERM)  # what systemd sends to the main process (KillMode=mixed)
    _wait_until(lambda: "warm shut down requested" in log.read_text().lower(), "the worker took the signal", worker)
    assert worker.poll() is None and not (tmp_path / "finished").exists()  # still running the job
    (tmp_path / "release").write_text("1")
    assert worker.wait(timeout=60) == 0
    assert (tmp_path / "finished").exists()
    job.refresh()
    assert job.get_status() == "finished" and job.return_value() == "done"
    # LOG_FORMAT=json (the documented environment): every line the worker wrote is one JSON object.
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message", "request_id"} <= line.keys() for line in lines)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.skipif(not Path("/usr/bin/systemd-analyze").exists(), reason="systemd-analyze is not installed")
def test_the_units_pass_systemd_analyze_verify(tmp_path):
    # On this machine's paths (verify refuses a missing program); the worker template as one of its instances.
    for path in UNITS.iterdir():
        text = path.read_text().replace("/opt/merchant-hub/.venv/bin/", str(Path(sys.executable).parent) + "/")
        text = text.replace("/opt/merchant-hub", str(ROOT)).replace("/etc/merchant-hub/merchant-hub.env",
                                                                     str(tmp_path / "env"))
        (tmp_path / path.name).write_text(text)
    (tmp_path / "env").write_text("")
    (tmp_path / "merchant-hub-worker@sync-1.service").symlink_to(tmp_path / "merchant-hub-worker@.service")
    names = sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".service", ".target") and "@." not in p.name)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
