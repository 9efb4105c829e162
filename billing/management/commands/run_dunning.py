"""manage.py run_dunning [--dry-run]: the hourly dunning and renewal-notice job, by hand, with a report."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing import dunning


class Command(BaseCommand):
    help = (
        "Make overdue passes past due, send payment reminders, suspend after the grace period, restore "
        "paid passes and send renewal notices (the same job Celery beat runs every hour)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be done; write and send nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        report = dunning.run(timezone.now(), dry_run=dry_run)
        if dry_run:
            summary = (
                f"would make {report.past_due} pass(es) past due, would send {report.reminders} payment "
                f"reminder(s), would suspend {report.suspended}, would restore {report.restored}, would send "
                f"{report.renewal_notices} renewal notice(s)."
            )
        else:
            summary = (
                f"made {report.past_due} pass(es) past due, recorded {report.reminders} payment reminder(s), "
                f"suspended {report.suspended}, restored {report.restored}, recorded "
                f"{report.renewal_notices} renewal notice(s); {report.sent} e-mail(s) sent."
            )
        self.stdout.write(f"{report.examined} pass(es) examined: {summary}")
        for line in report.lines:
            self.stdout.write(f"  {line}")
