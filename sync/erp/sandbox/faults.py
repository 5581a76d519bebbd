"""Faults on demand for the sandbox ERP bridge, as sync/marketplaces/top/sandbox/faults.py does for the marketplace.

The one-shot switches (`fail_next`, `slow_next`, `malformed_next`, `rate_limit_next_seconds`) are claimed
with conditional updates, so two server processes never both spend one; rates draw from one
module-level Random that `seed(n)` makes repeatable.
"""
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import sleep

from django.db.models import F

from .models import CallOutcome, SandboxErp

_rng = random.Random()


def seed(n: int) -> None:
    _rng.seed(n)


@dataclass
class Plan:
    """What happens to this call: an error answered instead, or a slow or broken answer."""

    status: int = 200
    code: str = ""
    message: str = ""
    retry_after: int = 0
    delay: float = 0.0
    malformed: bool = False

    @property
    def error(self) -> bool:
        return self.status != 200

    @property
    def outcome(self) -> str:
        if self.status == 429:
            return CallOutcome.RATE_LIMITED
        if self.status >= 500:
            return CallOutcome.SERVER_ERROR
        return CallOutcome.MALFORMED if self.malformed else CallOutcome.OK


def _spend(erp: SandboxErp, name: str) -> bool:
    return bool(getattr(erp, name)) and bool(
        SandboxErp.objects.filter(pk=erp.pk, **{f"{name}__gt": 0}).update(**{name: F(name) - 1}))


def plan_call(erp: SandboxErp, now: datetime) -> Plan:
    """Decide this call's faults, in order: fail_next, a new or running rate limit, error_rate; otherwise
    slow and malformed, which still answer."""
    if _spend(erp, "fail_next"):
        return Plan(status=503, code="unavailable", message="the ERP is restarting")
    seconds = erp.rate_limit_next_seconds
    if seconds and SandboxErp.objects.filter(pk=erp.pk, rate_limit_next_seconds=seconds).update(
            rate_limit_next_seconds=0, rate_limited_until=now + timedelta(seconds=seconds)):
        return _limited(seconds)
    if erp.rate_limited_until and erp.rate_limited_until > now:
        return _limited(math.ceil((erp.rate_limited_until - now).total_seconds()))
    if _hit(erp.error_rate):
        return _rng.choice([Plan(status=500, code="internal", message="unexpected error in the ERP"),
                            Plan(status=503, code="unavailable", message="the ERP is busy")])
    slow = _spend(erp, "slow_next") or _hit(erp.slow_rate)
    return Plan(delay=erp.slow_seconds if slow else 0.0,
                malformed=_spend(erp, "malformed_next") or _hit(erp.malformed_rate))


def pause(plan: Plan) -> None:
    if plan.delay > 0:
        sleep(plan.delay)


def _limited(seconds: int) -> Plan:
    return Plan(status=429, code="rate_limited", message=f"too many calls; retry after {seconds} s",
                retry_after=max(1, seconds))


def _hit(rate: float) -> bool:
    return rate > 0 and _rng.random() < rate
