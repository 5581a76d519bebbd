"""When the scheduler last ran its tick, for /readyz (config/health.py).

The one place readiness asks: point it at the scheduler's own record of its ticks once there is one."""
from datetime import datetime


def scheduler_last_tick() -> datetime | None:
    """The aware time of the scheduler's last tick, or None while nothing records it (shown as unknown)."""
    return None
