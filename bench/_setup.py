"""Shared start-up for the benchmark scripts: make the repo importable and configure Django."""
import os
import sys
from pathlib import Path

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
