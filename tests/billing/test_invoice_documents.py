"""Printable invoices and credit notes: the legal mentions in the HTML page and in the PDF, in the
invoice's language, and who may see them."""

import html
import re
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext, override, pgettext
from pypdf import PdfReader

from billing import documents, pricing, services
from billing.models import Invoice
from tests.factories import ManagerFactory, PlanFactory, SpaceFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")
pytestmark = pytest.mark.django_db


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=PARIS)


def tr(message: str, language: str = "fr") -> str:
    """A message as the invoice's language shows it (the catalogue's translation once it has one)."""
    with override(language):
        return gettext(message)


def normalize(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def page_text(response) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return normalize(html.unescape(re.sub(r"<[^>]+>", " ", body)))


def pdf_text(content: bytes) -> str:
    return normalize(" ".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages))


def both(client, invoice) -> tuple[str, str]:
    """The text of the printable page and of the PDF of an invoice, as its member sees them."""
    page = client.get(reverse("billing:invoice", args=[invoice.number]))
    pdf = client.get(reverse("billing:invoice_pdf", args=[invoice.number]))
    assert (page.status_code, pdf.status_code) == (200, 200)
    return page_text(page), pdf_text(pdf.content)


def assert_in_both(texts: tuple[str, str], *expected: str) -> None:
    for kind, text in zip(("HTML", "PDF"), texts, strict=True):
        for mention in expected:
            assert normalize(mention) in text, f"{mention!r} missing from the {kind}"


def assert_in_neither(texts: tuple[str, str], *unexpected: str) -> None:
    for kind, text in zip(("HTML", "PDF"), texts, strict=True):
        for mention in unexpected:
            assert normalize(mention) not in text, f"{mention!r} should not be in the {kind}"


@pytest.fixture
def lille():
    return SpaceFactory(
        name="Lille Coworking",
        slug="lille",
        invoice_prefix="LIL",
        legal_name="Ruche Lilloise SAS",
        legal_form="SAS",
        share_capital="10 000 €",
        registration_number="812345672",
        registry="RCS Lille Métropole",
        vat_number="FR32812345672",
        vat_on_debits=True,
        bank_iban="FR7630006000011234567890189",
        bank_bic="AGRIFRPPXXX",
    )


@pytest.fixture
def business():
    return UserFactory(
        member__display_name="Camille",
        member__billing_name="Camille Martin",
        member__company="Atelier Martin SARL",
        member__billing_address="3 rue Nationale\n59000 Lille",
        member__vat_number="FR40303265045",
        member__company_registration="303265045",
    )


@pytest.fixture
def consumer():
    return UserFactory(member__display_name="Léa Petit", member__billing_address="8 rue Solférino, Lille")


def buy(member, space, start=date(2026, 3, 2), price="250.00"):
    plan = PlanFactory(space=space, name="Mensuel", kind="monthly", unit_price=Decimal(price))
    pass_obj = services.pass_purchase(member=member, plan=plan, start=start, now=at(start))
    return pass_obj.periods.get().invoice


B2B_MENTIONS = (
    "No discount for early payment.",
    "Late payment penalties: three times the legal interest rate, due from the day after the due date "
    "without a reminder being necessary.",
    "Fixed indemnity for recovery costs in case of late payment: 40 €.",
)


def test_a_french_b2b_invoice_carries_every_mention_in_the_page_and_the_pdf(client, lille, business):
    invoice = buy(business, lille)
    client.force_login(business)
    texts = both(client, invoice)
    assert_in_both(
        texts,
        "Facture",
        invoice.number,
        # Seller: legal name, form and capital, SIREN, registry, VAT number, address.
        "Ruche Lilloise SAS",
        tr("%(form)s with a share capital of %(capital)s") % {"form": "SAS", "capital": "10 000 €"},
        tr("%(label)s: %(value)s") % {"label": tr("SIREN"), "value": "812345672"},
        "RCS Lille Métropole",
        "FR32812345672",
        "1 place du Théâtre",
        "59000 Lille",
        # Buyer: name, company, address, VAT number and SIREN (reform mention).
        "Camille Martin",
        "Atelier Martin SARL",
        "3 rue Nationale",
        "FR40303265045",
        tr("%(label)s: %(value)s") % {"label": tr("SIREN"), "value": "303265045"},
        # Dates: issue, service period, due date; the operation category.
        "2 mars 2026",
        tr("from %(start)s to %(end)s") % {"start": "2 mars 2026", "end": "1 avril 2026"},
        tr("%(label)s: %(value)s")
        % {"label": tr("Operation category"), "value": pgettext_fr("operation category", "Services")},
        # The line, the VAT summary and the totals, in euros.
        "Mensuel · 02/03/2026 - 01/04/2026",
        "250,00 €",
        "50,00 €",
        "300,00 €",
        "EUR",
        # VAT on debits, the B2B payment terms, the transfer details, the integrity fingerprint.
        tr("Option for payment of VAT on debits."),
        tr("Payment term: on receipt of the invoice, by %(date)s.") % {"date": "2 mars 2026"},
        *(tr(mention) for mention in B2B_MENTIONS),
        "FR7630006000011234567890189",
        "AGRIFRPPXXX",
        tr("%(label)s: %(value)s") % {"label": tr("Transfer reference"), "value": invoice.number},
        invoice.content_hash,
    )
    # Every string of the document model is in both renderings: they cannot disagree.
    with override("fr"):
        document = documents.invoice_document(invoice=invoice, paid=Decimal(0))
    assert_in_both(texts, *document.texts())
    assert_in_neither(texts, tr("Paid"), "TVA non applicable")


def pgettext_fr(context: str, message: str) -> str:
    with override("fr"):
        return pgettext(context, message)


def test_a_payment_term_in_days_is_stated_with_its_date(client, lille, business, settings):
    settings.BILLING_PAYMENT_TERMS_DAYS = 30
    invoice = buy(business, lille)
    client.force_login(business)
    assert invoice.due_date == date(2026, 4, 1)
    mention = (
        "Délai de paiement : 30 jours à compter de la date d'émission, soit au plus tard le 1 avril 2026."
    )
    assert_in_both(both(client, invoice), mention)


def test_a_consumer_invoice_has_no_business_penalties_nor_recovery_indemnity(client, lille, consumer):
    invoice = buy(consumer, lille)
    client.force_login(consumer)
    texts = both(client, invoice)
    assert_in_both(
        texts,
        "Léa Petit",
        "8 rue Solférino, Lille",
        tr("Option for payment of VAT on debits."),
        "300,00 €",
        "FR7630006000011234567890189",
    )
    assert_in_neither(texts, *(tr(mention) for mention in B2B_MENTIONS), "40 €", "Atelier")
    assert_in_neither(
        texts, tr("Payment term: on receipt of the invoice, by %(date)s.") % {"date": "2 mars 2026"}
    )


def test_a_belgian_seller_shows_its_enterprise_number_and_court_and_no_french_indemnity(client, business):
    brussels = SpaceFactory(
        name="Bruxelles Centre",
        slug="bruxelles",
        invoice_prefix="BXL",
        city="Bruxelles",
        street_address="12 rue Neuve",
        postal_code="1000",
        country="BE",
        time_zone="Europe/Brussels",
        vat_rate=Decimal("21.00"),
        legal_name="Coworking Bruxelles SRL",
        legal_form="SRL",
        registration_number="0403.170.701",
        registry="RPM Bruxelles",
        vat_number="BE0403170701",
        vat_on_debits=True,  # a French option: never printed for a Belgian company
    )
    invoice = buy(business, brussels, price="100.00")
    client.force_login(business)
    texts = both(client, invoice)
    assert_in_both(
        texts,
        "Coworking Bruxelles SRL",
        "SRL",
        tr("%(label)s: %(value)s") % {"label": tr("Enterprise number"), "value": "0403.170.701"},
        "RPM Bruxelles",
        "BE0403170701",
        "1000 Bruxelles",
        tr("Belgium"),
        tr("%(rate)s%%") % {"rate": "21"},
        "21,00 €",
        "121,00 €",
        tr("No discount for early payment."),
    )
    assert_in_neither(
        texts,
        tr("Fixed indemnity for recovery costs in case of late payment: 40 €."),
        tr("Option for payment of VAT on debits."),
        tr("%(label)s: %(value)s") % {"label": tr("SIREN"), "value": "0403.170.701"},
    )


def test_a_franchise_invoice_says_vat_is_not_applicable_and_shows_no_vat_number(client, consumer):
    micro = SpaceFactory(
        slug="micro",
        invoice_prefix="MIC",
        legal_name="Julie Bernard EI",
        legal_form="",
        registration_number="901234567",
        vat_number="",
        vat_rate=Decimal("0"),
    )
    invoice = buy(consumer, micro, price="180.00")
    assert invoice.vat_note == "TVA non applicable, art. 293 B du CGI"
    client.force_login(consumer)
    texts = both(client, invoice)
    assert_in_both(
        texts,
        "TVA non applicable, art. 293 B du CGI",
        "Julie Bernard EI",
        tr("%(label)s: %(value)s") % {"label": tr("SIREN"), "value": "901234567"},
        "180,00 €",
        f"{tr('Total VAT')} 0,00 €",
    )
    assert_in_neither(texts, capfirst(tr("VAT number")), capfirst(tr("VAT number", "en")), "FR32")


def test_a_credit_note_cites_the_invoice_it_corrects(client, lille, business):
    invoice = buy(business, lille)
    line = pricing.make_line("Remboursement partiel", Decimal(1), Decimal("125.00"), Decimal("0.20"))
    note = services.invoice_issue(
        space=lille,
        member=business,
        lines=[line],
        issue_date=date(2026, 3, 5),
        kind="credit_note",
        corrects=invoice,
    )
    client.force_login(business)
    texts = both(client, note)
    assert_in_both(
        texts,
        "Avoir",
        note.number,
        tr("%(label)s: %(value)s")
        % {
            "label": tr("Corrects invoice"),
            "value": tr("%(number)s of %(date)s") % {"number": invoice.number, "date": "2 mars 2026"},
        },
        "Remboursement partiel",
        "150,00 €",
        "5 mars 2026",
    )
    # A credit note owes nothing: no transfer instructions, no amount due.
    assert_in_neither(texts, "FR7630006000011234567890189", tr("Amount due"), "Facture n°")


def test_a_paid_invoice_is_stamped_paid_and_asks_for_no_transfer(client, lille, business):
    invoice = buy(business, lille)
    services.payment_record(
        invoice=invoice, amount=Decimal("300.00"), method="transfer", received_on=date(2026, 3, 3), by=None
    )
    client.force_login(business)
    texts = both(client, invoice)
    assert_in_both(texts, "Payée")
    assert_in_neither(texts, "FR7630006000011234567890189", tr("Amount due"))


def test_a_partly_paid_invoice_shows_what_is_paid_and_what_is_still_due(client, lille, business):
    invoice = buy(business, lille)
    services.payment_record(
        invoice=invoice, amount=Decimal("100.00"), method="cash", received_on=date(2026, 3, 3), by=None
    )
    client.force_login(business)
    texts = both(client, invoice)
    assert_in_both(
        texts,
        f"{tr('Already paid')} 100,00 €",  # the totals table: a label, then its amount
        f"{tr('Amount due')} 200,00 €",
        "FR7630006000011234567890189",
    )
    assert_in_neither(texts, "Payée")


def test_a_french_invoice_stays_french_for_a_viewer_who_reads_english(client, english, lille, business):
    invoice = buy(business, lille)
    client.force_login(business)
    page = client.get(reverse("billing:invoice", args=[invoice.number]))
    text = page_text(page)
    assert "My account" in text  # the site speaks the viewer's language...
    assert_in_both((text, text), "Facture", "2 mars 2026", "300,00 €")  # ...the invoice its own
    assert "Invoice no." not in text
    assert "€300.00" not in text
    assert '<article class="invoice-document" lang="fr"' in page.content.decode()


def test_an_english_member_gets_an_english_invoice_whatever_the_viewer_language(client, french, lille):
    member = UserFactory(member__display_name="Sam Taylor", member__preferred_language="en")
    invoice = buy(member, lille, price="1234.50")
    client.force_login(member)
    texts = both(client, invoice)
    assert_in_both(texts, "Invoice", "March 2, 2026", "€1,234.50", "€1,481.40", "20%")
    assert_in_neither(texts, "Facture", "1 234,50 €")


def test_the_print_stylesheet_and_button_are_allowed_by_this_pages_nonce_only(client, lille, consumer):
    invoice = buy(consumer, lille)
    client.force_login(consumer)
    response = client.get(reverse("billing:invoice", args=[invoice.number]))
    nonce = re.search(r'<style nonce="([^"]+)">', response.content.decode()).group(1)
    policy = response["Content-Security-Policy"]
    assert f"style-src 'self' 'nonce-{nonce}'" in policy
    assert f"script-src 'self' 'nonce-{nonce}'" in policy
    assert "unsafe-inline" not in policy
    assert f'<script nonce="{nonce}">' in response.content.decode()
    assert "@media print" in response.content.decode()
    assert "private" in response["Cache-Control"]  # an invoice is personal data: never in a shared cache


def test_the_pdf_is_an_attachment_named_after_the_number_with_its_metadata(client, lille, business):
    invoice = buy(business, lille)
    client.force_login(business)
    url = reverse("billing:invoice_pdf", args=[invoice.number])
    assert url == "/accounts/invoices/LIL-2026-00001.pdf"
    first, second = client.get(url), client.get(url)
    assert first["Content-Type"] == "application/pdf"
    assert first["Content-Disposition"] == 'attachment; filename="LIL-2026-00001.pdf"'
    assert first.content.startswith(b"%PDF-")
    assert first.content == second.content  # deterministic: two renderings are byte-identical
    metadata = PdfReader(BytesIO(first.content)).metadata
    assert (metadata.title, metadata.author) == ("LIL-2026-00001", "Ruche Lilloise SAS")


def test_characters_the_pdf_font_cannot_show_are_replaced_not_fatal(client, lille):
    member = UserFactory(
        member__display_name="Łukasz Wąsik 🚀", member__billing_address="ul. Długa 5\nGdańsk ≠ Kraków"
    )
    invoice = buy(member, lille)
    client.force_login(member)
    page_html, pdf = both(client, invoice)
    assert "Łukasz Wąsik 🚀" in page_html
    assert "?ukasz Wasik ?" in pdf
    assert "Gdansk ? Krakow"  # a letter loses its accent; "≠" is not turned into "=" in pdf


def test_an_old_invoice_with_a_thin_snapshot_still_renders(client, lille, consumer):
    invoice = buy(consumer, lille)
    # Invoices issued before the snapshots grew keys: an update, as a data migration would leave them.
    Invoice.objects.filter(pk=invoice.pk).update(
        seller={"legal_name": "Ancienne SARL"}, buyer={"name": "L. P."}
    )
    client.force_login(consumer)
    assert_in_both(both(client, invoice), "Ancienne SARL", "L. P.", "300,00 €")


# --- who may see an invoice -----------------------------------------------------------------------------


def test_only_the_member_and_the_managers_of_its_space_see_an_invoice(client, lille, business, consumer):
    invoice = buy(business, lille)
    urls = [
        reverse("billing:invoice", args=[invoice.number]),
        reverse("billing:invoice_pdf", args=[invoice.number]),
    ]
    cases = [
        (business, 200),
        (consumer, 404),  # another member: as if the number did not exist
        (ManagerFactory(spaces=[lille]), 200),
        (ManagerFactory(spaces=[SpaceFactory(slug="paris", invoice_prefix="PAR")]), 404),
        (UserFactory(is_superuser=True, is_staff=True), 200),
    ]
    for user, status in cases:
        client.force_login(user)
        assert [client.get(url).status_code for url in urls] == [status, status], user.email


def test_anonymous_visitors_are_sent_to_sign_in(client, lille, business):
    invoice = buy(business, lille)
    for url in (
        reverse("billing:invoices"),
        reverse("billing:invoice", args=[invoice.number]),
        reverse("billing:invoice_pdf", args=[invoice.number]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/invoices/LIL-2026-99999/",
        "/accounts/invoices/LIL-2026-99999.pdf",
        "/accounts/invoices/lil-2026-00001.pdf.pdf",
        "/accounts/invoices/%00/",
        "/accounts/invoices/" + "A" * 300 + "/",
        "/accounts/invoices/LIL-2026-00001/../../",
    ],
)
def test_a_bad_number_is_a_404(client, lille, business, path):
    buy(business, lille)
    client.force_login(business)
    assert client.get(path).status_code == 404


# --- the list -------------------------------------------------------------------------------------------


def test_the_list_shows_the_members_documents_newest_first_with_what_is_due(
    client, lille, business, consumer
):
    first = buy(business, lille, start=date(2026, 3, 2))
    second = buy(business, lille, start=date(2026, 3, 9))
    services.payment_record(
        invoice=second, amount=Decimal("100.00"), method="cash", received_on=date(2026, 3, 9), by=None
    )
    line = pricing.make_line("Geste commercial", Decimal(1), Decimal("10.00"), Decimal("0.20"))
    note = services.invoice_issue(
        space=lille,
        member=business,
        lines=[line],
        issue_date=date(2026, 3, 10),
        kind="credit_note",
        corrects=first,
    )
    others = buy(consumer, lille)
    client.force_login(business)
    response = client.get(reverse("billing:invoices"))
    assert response.status_code == 200
    text = page_text(response)
    assert text.index(note.number) < text.index(second.number) < text.index(first.number)
    assert others.number not in text
    assert "Avoir" in text or "Credit note" in text
    assert "200,00 €" in text  # the second invoice's amount still due
    body = response.content.decode()
    assert reverse("billing:invoice", args=[first.number]) in body
    assert reverse("billing:invoice_pdf", args=[note.number]) in body


def test_the_list_is_paginated_and_survives_a_bad_page(client, lille, consumer):
    line = pricing.make_line("Journée", Decimal(1), Decimal("20.00"), Decimal("0.20"))
    numbers = [
        services.invoice_issue(
            space=lille, member=consumer, lines=[line], issue_date=date(2026, 1, day)
        ).number
        for day in range(1, 23)
    ]
    client.force_login(consumer)
    first_page = page_text(client.get(reverse("billing:invoices")))
    assert numbers[-1] in first_page
    assert numbers[0] not in first_page
    last_page = client.get(reverse("billing:invoices"), {"page": "2"})
    assert numbers[0] in page_text(last_page)
    assert client.get(reverse("billing:invoices"), {"page": "nope"}).status_code == 200
    assert client.get(reverse("billing:invoices"), {"page": "999"}).status_code == 200


def test_the_account_menu_links_to_the_invoices(client, consumer):
    client.force_login(consumer)
    response = client.get(reverse("members:profile"))
    assert reverse("billing:invoices") in response.content.decode()
