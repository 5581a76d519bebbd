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


def batches_expire() -> int:
    """Periodic: batch-managed stock drops expired batches (SPEC M6)."""
    from merchant.services.stock import stock_recompute_expired_batches

    return stock_recompute_expired_batches()
