from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from coworking import demo


class Command(BaseCommand):
    help = "Create or refresh the demo network (idempotent). Demo passwords are set only when DEBUG is on."

    def handle(self, *args, **options):
        with_passwords = settings.DEMO_PASSWORDS
        accounts = demo.seed(with_passwords=with_passwords, today=timezone.localdate())
        self.stdout.write(self.style.SUCCESS(f"Demo network ready: {len(demo.SPACES)} spaces."))
        self.stdout.write("Demo accounts:")
        for email, role in accounts:
            self.stdout.write(f"  {email:<34} {role}")
        if with_passwords:
            self.stdout.write(f"Password for every demo account: {demo.DEMO_PASSWORD}")
        else:
            self.stdout.write("DEBUG is off: demo accounts have no password (use the password reset page).")
