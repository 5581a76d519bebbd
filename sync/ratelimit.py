"""The per-connection call budget (SPEC S1), shared by every worker through Redis.

A sliding log (a sorted set of call times over the last 60 s) rather than a fixed per-minute counter,
because a fixed window lets through twice the budget across a minute boundary. A ban the marketplace
announces ("This ban will last for N more seconds") is a key with that TTL; nobody calls until it ends.
Both checks and the reservation run in one Lua script, so two workers cannot take the last slot.
"""
import time
import uuid

from . import redis as sync_redis

WINDOW_MS = 60_000

_ACQUIRE = """
local ban = redis.call('PTTL', KEYS[2])
if ban > 0 then return ban end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class BudgetTimeout(Exception):
    """Waiting for the budget would take longer than the caller allows."""


class CallBudget:
    def __init__(self, connection_id: int, calls_per_minute: int, *, sleep=time.sleep):
        self.log_key = f"mh:budget:{connection_id}"
        self.ban_key = f"mh:ban:{connection_id}"
        self.limit = max(1, int(calls_per_minute))
        self._sleep = sleep
        self._redis = sync_redis.connection()
        self._script = self._redis.register_script(_ACQUIRE)

    def try_acquire(self) -> int:
        """0 when a call may go now (and is counted); else the milliseconds to wait."""
        return int(self._script(keys=[self.log_key, self.ban_key], args=[WINDOW_MS, self.limit, uuid.uuid4().hex]))

    def acquire(self, max_wait: float = 600.0) -> float:
        """Block until a call may go; return the seconds waited. Raises BudgetTimeout past max_wait."""
        waited = 0.0
        while True:
            wait_ms = self.try_acquire()
            if wait_ms == 0:
                return waited
            pause = wait_ms / 1000.0
            if waited + pause > max_wait:
                raise BudgetTimeout(f"the call budget would need {waited + pause:.0f} s (limit {max_wait:.0f} s)")
            self._sleep(pause)
            waited += pause

    def ban(self, seconds: float) -> None:
        """Stop every worker's calls on this connection for `seconds`."""
        self._redis.set(self.ban_key, "1", px=max(1, int(seconds * 1000)))

    def banned_for(self) -> float:
        """Seconds left of the current ban (0 when none)."""
        ms = self._redis.pttl(self.ban_key)
        return max(0, ms) / 1000.0
