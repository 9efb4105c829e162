"""manage.py renew_passes [--dry-run]: the hourly renewal job, by hand, with a report of what it did."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing import services


class Command(BaseCommand):
    help = "Renew every auto-renewing pass that is due (the same job Celery beat runs every hour)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be done; write nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        report = services.renew_due_passes(now=timezone.now(), dry_run=dry_run)
        verb = "would renew" if dry_run else "renewed"
        self.stdout.write(
            f"{report.examined} due pass(es) examined: {verb} {report.renewed}, "
            f"{'would expire' if dry_run else 'expired'} {report.expired}, skipped {report.skipped}."
        )
        for line in report.invoices:
            self.stdout.write(f"  {line}")
