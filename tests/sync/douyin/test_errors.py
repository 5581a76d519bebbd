"""Douyin's answer envelope -> our typed errors (sync/marketplaces/douyin/errors.py)."""
import pytest

from sync.errors import BusinessError, Permanent, RateLimited, Retryable, SessionExpired
from sync.marketplaces.douyin.errors import (
    DEFAULT_BAN_SECONDS,
    TokenExpired,
    error_from_envelope,
)


def envelope(code, sub_code="", sub_msg="", log_id="20261204abc"):
    return {"code": code, "msg": "remote words", "sub_code": sub_code, "sub_msg": sub_msg, "log_id": log_id}


@pytest.mark.parametrize("code", [20000, 20001])
def test_service_errors_and_timeouts_are_retryable(code):
    error = error_from_envelope(envelope(code, "isp.service-error"))
    assert type(error) is Retryable and error.code == f"{code} isp.service-error"
    assert error.request_id == "20261204abc"


def test_a_ban_waits_the_seconds_named_in_sub_msg():
    error = error_from_envelope(envelope(60000, "isp.traffic-limited", "请求过于频繁，请10秒后重试"))
    assert isinstance(error, RateLimited) and error.seconds == 10


def test_a_ban_reads_the_seconds_of_the_sub_code_or_waits_the_default():
    assert error_from_envelope(envelope(60000, "isp.traffic-limited:7")).seconds == 7
    assert error_from_envelope(envelope(60000, "isp.traffic-limited")).seconds == DEFAULT_BAN_SECONDS


@pytest.mark.parametrize("sub_code", ["isv.access-token-expired", "isv.access-token-no-existed"])
def test_an_expired_or_unknown_token_is_token_expired_a_session_expired(sub_code):
    error = error_from_envelope(envelope(40003, sub_code))
    assert isinstance(error, TokenExpired) and isinstance(error, SessionExpired)


@pytest.mark.parametrize("code,sub_code", [(40003, "isv.signature-invalid"), (40003, "isv.timestamp-invalid"),
                                           (30001, "isv.permission-denied"), (40001, "")])
def test_signature_timestamp_and_permission_failures_are_permanent(code, sub_code):
    error = error_from_envelope(envelope(code, sub_code))
    assert type(error) is Permanent


@pytest.mark.parametrize("code", [40004, 50002])
def test_refused_items_are_business_errors(code):
    assert type(error_from_envelope(envelope(code, "isv.business-failed"))) is BusinessError


def test_an_unknown_code_is_retryable_and_recorded():
    error = error_from_envelope(envelope(12345, "weird.code"))
    assert type(error) is Retryable and error.code == "12345 weird.code"


def test_error_texts_never_carry_the_remote_words():
    error = error_from_envelope(envelope(50002, "isv.business-failed", "<script>secret detail</script>"))
    assert "remote words" not in str(error) and "secret detail" not in str(error)
    assert error_from_envelope(envelope(50002, "not a token <b>")).code == "50002"
