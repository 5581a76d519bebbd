"""What a failed run records names the failing part in words, with the detail after it."""
from django.db import OperationalError
from django.utils import translation
from redis.exceptions import ConnectionError as RedisConnectionError

from sync.errors import NetworkError, failure_text


def test_failures_are_named_in_words():
    with translation.override("en"):
        assert failure_text(NetworkError("the gateway did not answer")) == "the gateway did not answer"
        assert failure_text(RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")) == (
            "The job queue (Redis) could not be reached: Error 111 connecting to 127.0.0.1:6379.")
        assert failure_text(OperationalError("server closed the connection")).startswith(
            "The database refused or did not answer")
        assert failure_text(KeyError("x")) == "Unexpected error (KeyError): 'x'"
    with translation.override("zh-hans"):
        assert failure_text(RedisConnectionError("Error 111")) == "无法连接后台任务队列（Redis）：Error 111"
