"""RQ entry points only: each loads what it needs and calls one pipeline function."""
import logging

log = logging.getLogger(__name__)


def switches_resume_expired() -> int:
    """Periodic: end time-boxed pauses whose until-time has passed and apply what was held."""
    from merchant.services.switches import switches_resume_expired as resume

    resumed = resume()
    if resumed:
        log.info("resumed %s expired switch pauses", resumed)
    return resumed
