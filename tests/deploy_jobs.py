"""Jobs the production-recipe test (tests/test_deploy_recipe.py) hands to a worker started from its unit."""
import time
from pathlib import Path


def job_until_released(folder: str) -> str:
    """Say it started, run until the test releases it (a file appears), then say it finished; returns "done"."""
    path = Path(folder)
    (path / "started").write_text("1")
    deadline = time.monotonic() + 60
    while not (path / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (path / "finished").write_text("1")
    return "done"
