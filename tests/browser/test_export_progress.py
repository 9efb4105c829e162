"""The export progress page in a real browser: it follows a background job and offers the file."""

from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import expect

from coworking import exports
from tests.coworking.test_exports import BOM
from tests.factories import ManagerFactory, SpaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def paris():
    return SpaceFactory(name="Paris Bastille", slug="paris", invoice_prefix="PAR")


def test_the_progress_page_follows_the_job_and_offers_the_file_when_ready(
    browser, live_server, client, paris, monkeypatch
):

    # Playwright's sync API runs an event loop in this thread; the ORM calls around it are synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yanis = ManagerFactory(email="yanis@example.com", spaces=[paris])
    client.force_login(yanis)
    spec = exports.ExportSpec(
        kind=exports.ExportKind.PAYMENTS,
        space_ids=(paris.pk,),
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        file_format=exports.ExportFormat.EXCEL_FR,
    )
    job_id = exports.job_create(owner_id=yanis.pk, spec=spec, total=4000, language="fr")
    exports.job_update(job_id=job_id, status="running", done=1000)
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.add_cookies(
        [
            {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url},
            {"name": "django_language", "value": "en", "url": live_server.url},
        ]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(f"/admin/exports/{job_id}/")
    expect(page.locator("#export-progress")).to_have_attribute("value", "1000")
    expect(page.locator("#export-download")).to_be_hidden()
    expect(page.locator("#export-failed")).to_be_hidden()

    exports.job_update(job_id=job_id, done=3000)
    expect(page.locator("#export-rows")).to_have_text("3000 of 4000 rows", timeout=10_000)

    name = default_storage.save(f"exports/{job_id}.csv", ContentFile(BOM.encode() + b"Date;Facture\r\n"))
    exports.job_update(job_id=job_id, status="done", done=4000, file=name)
    link = page.get_by_role("link", name="Download the file")
    expect(link).to_be_visible(timeout=10_000)
    expect(link).to_have_attribute("href", f"/admin/exports/{job_id}/download/")
    expect(page.locator("#export-progress")).to_have_attribute("value", "4000")
    expect(page.locator("#export-failed")).to_be_hidden()
    expect(page.locator("#export-refresh")).to_be_hidden()
    context.close()
    default_storage.delete(name)
    # A CSP violation or a broken script shows up as a console error.
    assert errors == []
