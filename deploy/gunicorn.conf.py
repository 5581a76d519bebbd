"""gunicorn settings for the web unit (deploy/systemd/merchant-hub-web.service), read from the environment file."""
import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threads: a long export stream or a 200 MB upload holds a thread, not a whole process, and the process keeps
# answering gunicorn's heartbeat meanwhile (a sync worker would be killed past `timeout`).
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
# SIGTERM: stop accepting, finish the requests in flight for up to this long (the unit waits a little longer).
graceful_timeout = 30
keepalive = 5
# A process is replaced after this many requests (a leak cannot grow without bound); jitter keeps them apart.
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# The request id the app returns (config/request_id.py), so an access line matches the app's own lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'

# LOG_FORMAT=json: gunicorn's own lines (start, worker boot, access) as the app's JSON objects, one per line.
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "config.log_json.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
                    "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False}},
    }
