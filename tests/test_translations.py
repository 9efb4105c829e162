"""The French catalogue is complete, and the committed .mo files match the .po sources, so that a
fresh machine without GNU gettext serves French."""

import gettext
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(ROOT.glob("locale/*/LC_MESSAGES/django.po"))


def test_there_is_a_french_catalog():
    assert ROOT / "locale/fr/LC_MESSAGES/django.po" in CATALOGS


@pytest.mark.parametrize("po_path", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_every_message_is_translated_and_none_is_fuzzy(po_path):
    catalog = polib.pofile(str(po_path))
    assert [e.msgid for e in catalog.untranslated_entries()] == []
    assert [e.msgid for e in catalog.fuzzy_entries()] == []


@pytest.mark.parametrize("po_path", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_the_compiled_catalog_matches_its_source(po_path):
    catalog = polib.pofile(str(po_path))
    with open(po_path.with_suffix(".mo"), "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in catalog.translated_entries():
        if entry.msgctxt:
            assert compiled.pgettext(entry.msgctxt, entry.msgid) == entry.msgstr, "run `make messages`"
        elif entry.msgid_plural:
            assert compiled.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstr_plural[0]
        else:
            assert compiled.gettext(entry.msgid) == entry.msgstr, "run `make messages`"
