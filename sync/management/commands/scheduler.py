"""Operator CLI: queue the periodic jobs of config/cron.py on time, until SIGTERM or SIGINT (Ctrl-C). Run one on
every machine that should keep the schedule going: each tick is queued once whichever of them claims it."""
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from sync.scheduler import periodic_jobs, scheduler_claimant, scheduler_run


class Command(BaseCommand):
    help = ("Queue the periodic jobs of config/cron.py on time; any number may run at once, on any machines, "
            "and each tick is queued once. Stops on SIGTERM or SIGINT.")

    def add_arguments(self, parser):
        parser.add_argument("--only", nargs="+", metavar="JOB",
                            help="only these jobs of config/cron.py (dotted path or function name)")

    def handle(self, *args, only=None, **options):
        try:
            jobs = periodic_jobs(only or ())
        except ValueError as error:
            raise CommandError(str(error)) from error
        stop = threading.Event()
        # A signal only ends the wait between polls: a claim under way finishes (or rolls back) first.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        claimant = scheduler_claimant()
        self.stdout.write(f"scheduler {claimant}: {len(jobs)} periodic jobs")
        self.stdout.flush()
        scheduler_run(jobs, stop=stop, claimant=claimant)
        self.stdout.write(f"scheduler {claimant}: stopped")
