"""Compile every .po file of the project into its .mo with polib: no system gettext (msgfmt) needed."""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Compile the project's translations (.po -> .mo) without GNU gettext."

    def handle(self, *args, **options):
        count = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                catalog = polib.pofile(str(po_path))
                fuzzy = [entry.msgid for entry in catalog.fuzzy_entries()]
                if fuzzy:
                    raise CommandError(f"{po_path} has fuzzy entries to review: {fuzzy[:5]}")
                catalog.save_as_mofile(str(po_path.with_suffix(".mo")))
                count += 1
                self.stdout.write(f"compiled {po_path} ({catalog.percent_translated()}% translated)")
        if not count:
            raise CommandError("no .po file found in LOCALE_PATHS")
