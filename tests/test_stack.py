"""`make run` (config/stack.py): the message consumer starts only once the web server answers, since its first
call goes to the demo marketplace that server hosts."""
import socket

import pytest

from config import stack


class Running:
    def poll(self):
        return None

    def wait(self, timeout=None):
        return 0

    def send_signal(self, signum):
        pass


class Exited(Running):
    def poll(self):
        return 0


def test_the_consumer_starts_after_the_web_server_answers(monkeypatch):
    events = []

    def start(args, env):
        events.append(("start", args[1]))
        # Every process "stops" once the consumer is up, so the supervisor returns.
        return Exited() if args[1] == "messages_consume" else Running()

    def wait(port, timeout, **kwargs):
        events.append(("wait", port, kwargs["host"], kwargs["process"] is not None))

    monkeypatch.setattr(stack, "_start", start)
    monkeypatch.setattr(stack, "_wait_for_port", wait)
    monkeypatch.setattr(stack, "_manage", lambda *args, env: None)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("PORT", "8765")
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setattr(stack.signal, "signal", lambda *args: None)
    assert stack.run_demo() == 1  # a process stopped

    assert events[0] == ("start", "runserver")
    waited = events.index(("wait", 8765, "0.0.0.0", True))
    assert events.index(("start", "messages_consume")) == waited + 1
    assert {e[1] for e in events[:waited]} == {"runserver", "rqworker", "scheduler"}


def test_no_consumer_when_the_web_server_never_answers(monkeypatch, capsys):
    started = []
    monkeypatch.setattr(stack, "_start", lambda args, env: started.append(args[1]) or Running())

    def wait(port, timeout, **kwargs):
        raise RuntimeError("the web server stopped before listening on 127.0.0.1:8000")

    monkeypatch.setattr(stack, "_wait_for_port", wait)
    monkeypatch.setattr(stack, "_manage", lambda *args, env: None)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(stack.signal, "signal", lambda *args: None)
    assert stack.run_demo() == 1
    assert "messages_consume" not in started
    assert "the web server stopped before listening" in capsys.readouterr().err


def test_wait_for_port_returns_once_something_listens():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        stack._wait_for_port(server.getsockname()[1], 5, host="0.0.0.0", what="the web server", process=Running())


def test_wait_for_port_gives_up_when_the_server_process_exits():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: nothing answers
        with pytest.raises(RuntimeError, match="the web server stopped before listening"):
            stack._wait_for_port(port, 60, what="the web server", process=Exited())
