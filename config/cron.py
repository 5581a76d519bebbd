"""The periodic jobs: the one list `manage.py scheduler` reads (sync/scheduler.py). Any number of schedulers may
run on any number of machines; each tick of each job is queued once."""
from merchant import jobs as merchant_jobs
from sync import jobs
from sync.erp.sandbox import jobs as sandbox_erp_jobs
from sync.marketplaces.douyin.sandbox import jobs as sandbox_douyin_jobs
from sync.marketplaces.top.sandbox import jobs as sandbox_jobs
from sync.scheduler import Periodic

PERIODIC = (
    Periodic(merchant_jobs.switches_resume_expired, every=60),
    Periodic(merchant_jobs.batches_expire, every=3600),
    Periodic(jobs.sync_dispatch, every=60),
    # Imports lost with a worker or with Redis are queued again, as the dispatcher does for sync work.
    Periodic(merchant_jobs.imports_recover, every=60),
    # The exception queue's clocks (paid and not taken for hours...) move orders into it without any write.
    Periodic(merchant_jobs.orders_attention_sweep, every=60),
    # Presale freezes past their balance deadline go back on sale without waiting for the marketplace's close.
    Periodic(merchant_jobs.presale_freezes_expire, every=60),
    # Notifications (SPEC M15): robot deliveries that are due (a retry, or a job lost with a worker or Redis), and
    # the hourly scan for low stock, batches entering the expiry window and stalled shipments.
    Periodic(jobs.notifications_dispatch, every=60),
    Periodic(merchant_jobs.notifications_scan, every=3600),
    Periodic(jobs.sync_records_purge, every=86400),
    Periodic(merchant_jobs.api_nonces_purge, every=3600),
    # The simulated marketplace's buyers and sellers (demo only: it acts on shops with demo activity on).
    Periodic(sandbox_jobs.sandbox_activity, every=15),
    # The simulated Douyin shop's buyers and sellers, and its push messages to the app's callback URL (demo only).
    Periodic(sandbox_douyin_jobs.sandbox_douyin_activity, every=15),
    # The simulated ERP's warehouse moving stock and changing prices (demo only: bridges with demo activity on).
    Periodic(sandbox_erp_jobs.sandbox_erp_activity, every=15),
)
