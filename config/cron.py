"""The one scheduler's configuration, read by `manage.py rqcron config/cron.py`."""
from rq import cron

from merchant import jobs as merchant_jobs
from sync import jobs
from sync.marketplaces.douyin.sandbox import jobs as sandbox_douyin_jobs
from sync.marketplaces.top.sandbox import jobs as sandbox_jobs
from sync.erp.sandbox import jobs as sandbox_erp_jobs

cron.register(merchant_jobs.switches_resume_expired, queue_name="default", interval=60)
cron.register(merchant_jobs.batches_expire, queue_name="default", interval=3600)
cron.register(jobs.sync_dispatch, queue_name="default", interval=60)
# Imports lost with a worker or with Redis are queued again, as the dispatcher does for sync work.
cron.register(merchant_jobs.imports_recover, queue_name="default", interval=60)
# The exception queue's clocks (paid and not taken for hours...) move orders into it without any write.
cron.register(merchant_jobs.orders_attention_sweep, queue_name="default", interval=60)
# Presale freezes past their balance deadline go back on sale without waiting for the marketplace's close.
cron.register(merchant_jobs.presale_freezes_expire, queue_name="default", interval=60)
# Notifications (SPEC M15): robot deliveries that are due (a retry, or a job lost with a worker or Redis), and the
# hourly scan for low stock, batches entering the expiry window and stalled shipments.
cron.register(jobs.notifications_dispatch, queue_name="default", interval=60)
cron.register(merchant_jobs.notifications_scan, queue_name="default", interval=3600)
cron.register(jobs.sync_records_purge, queue_name="default", interval=86400)
cron.register(merchant_jobs.api_nonces_purge, queue_name="default", interval=3600)
# The simulated marketplace's buyers and sellers (demo only: it acts on shops with demo activity on).
cron.register(sandbox_jobs.sandbox_activity, queue_name="default", interval=15)
# The simulated Douyin shop's buyers and sellers, and its push messages to the app's callback URL (demo only).
cron.register(sandbox_douyin_jobs.sandbox_douyin_activity, queue_name="default", interval=15)
# The simulated ERP's warehouse moving stock and changing prices (demo only: bridges with demo activity on).
cron.register(sandbox_erp_jobs.sandbox_erp_activity, queue_name="default", interval=15)
