"""The one scheduler's configuration, read by `manage.py rqcron config/cron.py`."""
from rq import cron

from sync import jobs

cron.register(jobs.switches_resume_expired, queue_name="default", interval=60)
cron.register(jobs.batches_expire, queue_name="default", interval=3600)
