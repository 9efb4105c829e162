"""The printable invoice and credit note: one document model, two renderings (HTML page and PDF).

`invoice_document` turns an issued Invoice into plain, already translated and formatted strings, in the
invoice's language whatever the viewer's. The HTML template and `invoice_pdf` only lay those strings out,
so the page and the PDF can never disagree on a mention, an amount or a date.

Mentions follow LOCAL-RULES.md: France CGI ann. II art. 242 nonies A (seller and buyer, dates, lines,
VAT per rate, the 2022-1299 reform mentions), Code de commerce L441-9 and L441-10 (B2B payment terms,
penalties, the 40 EUR recovery indemnity), CGI 289 I-5 (a credit note cites the invoice it corrects);
Belgium AR n°1 art. 5 and CSA 2:20 (enterprise number, RPM court).
"""

import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from io import BytesIO
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import formats
from django.utils.text import capfirst
from django.utils.translation import get_language, ngettext, override, pgettext
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.models import DocumentKind, Invoice, InvoiceStatus
from billing.money import currency_exponent
from spaces.models import Country

NBSP = "\xa0"
CURRENCY_SYMBOLS = {"EUR": "€"}


# --- formatting, in the active language ---------------------------------------------------------------


def _number(value: Decimal, places: int) -> str:
    text = formats.number_format(value, decimal_pos=places, use_l10n=True, force_grouping=True)
    # Some locales group with a narrow no-break space, which the PDF's standard fonts cannot show.
    return text.replace("\u202f", NBSP)


def format_money(amount: Decimal, currency: str) -> str:
    """An amount with its currency in the active language: "1 234,50 €" in French, "€1,234.50" in English."""
    try:
        places = currency_exponent(currency)
    except ValueError:
        places = 2
    digits = _number(abs(amount), places)
    symbol = CURRENCY_SYMBOLS.get(currency)
    if (get_language() or "").startswith("fr"):
        text = f"{digits}{NBSP}{symbol or currency}"
    else:
        text = f"{symbol}{digits}" if symbol else f"{currency}{NBSP}{digits}"
    return f"-{text}" if amount < 0 else text


def format_quantity(quantity: Decimal) -> str:
    """1.00 -> "1", 1.50 -> "1,5" (French) or "1.5" (English)."""
    if quantity == quantity.to_integral_value():
        return _number(quantity, 0)
    return _number(quantity, max(0, -quantity.normalize().as_tuple().exponent))


def format_rate(rate: Decimal) -> str:
    return _("%(rate)s%%") % {"rate": format_quantity(rate)}


def format_date(day: date) -> str:
    return formats.date_format(day, "DATE_FORMAT")


# --- the document model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    text: str  # "label: value" with the language's punctuation (French puts a space before the colon)


@dataclass(frozen=True)
class Party:
    heading: str
    name: str
    lines: tuple[str, ...]
    details: tuple[Field, ...]


@dataclass(frozen=True)
class LineRow:
    description: str
    quantity: str
    unit_price: str
    vat_rate: str
    net: str


@dataclass(frozen=True)
class VatRow:
    rate: str
    base: str
    vat: str


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything printed on an invoice or a credit note, as strings in the invoice's language."""

    language: str
    number: str
    title: str
    heading: str
    is_credit_note: bool
    seller: Party
    buyer: Party
    facts: tuple[Field, ...]
    line_columns: tuple[str, ...]
    lines: tuple[LineRow, ...]
    vat_heading: str
    vat_columns: tuple[str, ...]
    vat_rows: tuple[VatRow, ...]
    totals: tuple[Field, ...]
    balance: tuple[Field, ...]
    paid_stamp: str
    payment_heading: str
    payment: tuple[Field, ...]
    mentions_heading: str
    mentions: tuple[str, ...]
    footer: str
    author: str

    def texts(self) -> list[str]:
        """Every string the document prints, for checks that both renderings show all of it."""
        out = [self.heading, self.paid_stamp, self.footer, *self.mentions]
        for party in (self.seller, self.buyer):
            out += [party.name, *party.lines, *(f.text for f in party.details)]
        for fields in (self.facts, self.payment):
            out += [f.text for f in fields]
        for f in self.totals + self.balance:  # laid out as a table: label and value in their own cells
            out += [f.label, f.value]
        for row in self.lines:
            out += [row.description, row.quantity, row.unit_price, row.vat_rate, row.net]
        for vat_row in self.vat_rows:
            out += [vat_row.rate, vat_row.base, vat_row.vat]
        return [text for text in out if text]


def _field(label: str, value: str) -> Field:
    text = _("%(label)s: %(value)s") % {"label": label, "value": value} if label else value
    return Field(label, value, text)


def _text(snapshot: dict, key: str) -> str:
    value = snapshot.get(key)
    return "" if value is None or isinstance(value, bool) else str(value).strip()


def _address_lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]


def _country_name(code: str) -> str:
    return str(Country(code).label) if code in Country.values else code


def _registration_label(country: str) -> str:
    if country == Country.BELGIUM:
        return _("Enterprise number")
    if country == Country.FRANCE:
        return _("SIREN")
    return capfirst(_("registration number"))


def _seller(seller: dict, country: str) -> Party:
    legal_name = _text(seller, "legal_name") or _text(seller, "name")
    lines = []
    if _text(seller, "name") and _text(seller, "name") != legal_name:
        lines.append(_text(seller, "name"))
    lines += _address_lines(_text(seller, "address"))
    if country:
        lines.append(_country_name(country))
    if _text(seller, "email"):
        lines.append(_text(seller, "email"))
    details = []
    form, capital = _text(seller, "legal_form"), _text(seller, "share_capital")
    if form and capital:
        details.append(
            _field("", _("%(form)s with a share capital of %(capital)s") % {"form": form, "capital": capital})
        )
    elif form:
        details.append(_field("", form))
    elif capital:
        details.append(_field(_("Share capital"), capital))
    if _text(seller, "registration_number"):
        details.append(_field(_registration_label(country), _text(seller, "registration_number")))
    if _text(seller, "registry"):
        details.append(_field("", _text(seller, "registry")))
    if _text(seller, "vat_number"):
        details.append(_field(capfirst(_("VAT number")), _text(seller, "vat_number")))
    return Party(_("Seller"), legal_name, tuple(lines), tuple(details))


def _buyer(buyer: dict) -> Party:
    name = _text(buyer, "name") or _text(buyer, "company") or _text(buyer, "email")
    country = _text(buyer, "country").upper()
    lines = []
    if _text(buyer, "company") and _text(buyer, "company") != name:
        lines.append(_text(buyer, "company"))
    lines += _address_lines(_text(buyer, "address"))
    if country:
        lines.append(_country_name(country))
    details = []
    if _text(buyer, "vat_number"):
        details.append(_field(capfirst(_("VAT number")), _text(buyer, "vat_number")))
    if _text(buyer, "registration"):
        details.append(_field(_registration_label(country), _text(buyer, "registration")))
    return Party(_("Customer"), name, tuple(lines), tuple(details))


def is_business_buyer(buyer: dict) -> bool:
    """B2B when the buyer gave a company or a VAT number: the commercial-code mentions apply then."""
    return bool(_text(buyer, "company") or _text(buyer, "vat_number"))


def _facts(invoice: Invoice) -> list[Field]:
    facts = [_field(capfirst(_("issue date")), format_date(invoice.issue_date))]
    start, end = invoice.service_start, invoice.service_end or invoice.service_start
    if start and end and start != end:
        period = _("from %(start)s to %(end)s") % {"start": format_date(start), "end": format_date(end)}
        facts.append(_field(_("Service period"), period))
    elif start:
        facts.append(_field(_("Date of service"), format_date(start)))
    facts.append(_field(capfirst(_("due date")), format_date(invoice.due_date)))
    # Reform mention (décret 2022-1299): the category of the operation; a coworking space sells services.
    facts.append(_field(_("Operation category"), pgettext("operation category", "Services")))
    facts.append(_field(_("Currency"), invoice.currency))
    if invoice.is_credit_note and invoice.corrects_id:
        corrected = invoice.corrects
        facts.append(
            _field(
                _("Corrects invoice"),
                _("%(number)s of %(date)s")
                % {"number": corrected.number, "date": format_date(corrected.issue_date)},
            )
        )
    return facts


def _vat_rows(lines, currency: str) -> list[VatRow]:
    bases: dict[Decimal, Decimal] = defaultdict(Decimal)
    vats: dict[Decimal, Decimal] = defaultdict(Decimal)
    for line in lines:
        bases[line.vat_rate] += line.net
        vats[line.vat_rate] += line.vat
    return [
        VatRow(format_rate(rate), format_money(bases[rate], currency), format_money(vats[rate], currency))
        for rate in sorted(bases, reverse=True)
    ]


def _mentions(invoice: Invoice, seller: dict, buyer: dict, country: str) -> list[str]:
    mentions = []
    if invoice.vat_note:
        mentions.append(invoice.vat_note)
    if seller.get("vat_on_debits") is True and country == Country.FRANCE:
        # CGI 269-2-c: the space pays VAT when it invoices, not when it is paid; the invoice must say so.
        mentions.append(_("Option for payment of VAT on debits."))
    if is_business_buyer(buyer):
        days = (invoice.due_date - invoice.issue_date).days
        if days > 0:
            mentions.append(
                ngettext(
                    "Payment term: %(days)d day from the issue date, that is by %(date)s.",
                    "Payment term: %(days)d days from the issue date, that is by %(date)s.",
                    days,
                )
                % {"days": days, "date": format_date(invoice.due_date)}
            )
        else:
            mentions.append(
                _("Payment term: on receipt of the invoice, by %(date)s.")
                % {"date": format_date(invoice.due_date)}
            )
        mentions.append(_("No discount for early payment."))
        if country == Country.FRANCE:
            # C. com. L441-10: penalties are mandatory between professionals, never below three times the
            # legal interest rate, plus a flat 40 EUR indemnity for recovery costs. Consumers: neither.
            mentions.append(
                _(
                    "Late payment penalties: three times the legal interest rate, due from the day after "
                    "the due date without a reminder being necessary."
                )
            )
            mentions.append(_("Fixed indemnity for recovery costs in case of late payment: 40 €."))
    return mentions


def invoice_document(*, invoice: Invoice, paid: Decimal, credited: Decimal = Decimal(0)) -> InvoiceDocument:
    """The printable content of an issued invoice or credit note, in the invoice's language.

    `paid` is what succeeded payments cover (billing.services.amount_paid); it decides the "paid" stamp,
    the amount still due and whether the payment instructions are shown."""
    codes = {code for code, _name in settings.LANGUAGES}
    language = invoice.language if invoice.language in codes else settings.LANGUAGE_CODE
    seller = invoice.seller if isinstance(invoice.seller, dict) else {}
    buyer = invoice.buyer if isinstance(invoice.buyer, dict) else {}
    country = (_text(seller, "country") or invoice.space.country).upper()
    currency = invoice.currency
    lines = list(invoice.lines.all())
    with override(language):
        title = str(DocumentKind(invoice.kind).label) if invoice.kind in DocumentKind.values else _("Invoice")
        is_invoice = not invoice.is_credit_note
        is_paid = invoice.status == InvoiceStatus.PAID
        owed = is_invoice and invoice.status == InvoiceStatus.ISSUED
        due = max(invoice.gross - credited - paid, Decimal(0)) if owed else Decimal(0)
        balance = []
        if due and credited > 0:
            balance.append(_field(_("Already credited"), format_money(credited, currency)))
        if due and paid > 0:
            balance.append(_field(_("Already paid"), format_money(paid, currency)))
        if due:
            balance.append(_field(_("Amount due"), format_money(due, currency)))
        payment = []
        iban = _text(seller, "iban")
        if due and iban:
            payment.append(_field("IBAN", iban))
            if _text(seller, "bic"):
                payment.append(_field("BIC", _text(seller, "bic")))
            payment.append(_field(_("Transfer reference"), invoice.number))
        return InvoiceDocument(
            language=language,
            number=invoice.number,
            title=title,
            heading=_("%(title)s no. %(number)s") % {"title": title, "number": invoice.number},
            is_credit_note=invoice.is_credit_note,
            seller=_seller(seller, country),
            buyer=_buyer(buyer),
            facts=tuple(_facts(invoice)),
            line_columns=(
                capfirst(_("description")),
                capfirst(_("quantity")),
                capfirst(_("unit price excl. VAT")),
                _("VAT rate"),
                capfirst(_("total excl. VAT")),
            ),
            lines=tuple(
                LineRow(
                    line.description,
                    format_quantity(line.quantity),
                    format_money(line.unit_price, currency),
                    format_rate(line.vat_rate),
                    format_money(line.net, currency),
                )
                for line in lines
            ),
            vat_heading=_("VAT summary"),
            vat_columns=(_("VAT rate"), _("Taxable base"), _("VAT")),
            vat_rows=tuple(_vat_rows(lines, currency)),
            totals=(
                _field(capfirst(_("total excl. VAT")), format_money(invoice.net, currency)),
                _field(_("Total VAT"), format_money(invoice.vat, currency)),
                _field(capfirst(_("total incl. VAT")), format_money(invoice.gross, currency)),
            ),
            balance=tuple(balance),
            paid_stamp=str(InvoiceStatus.PAID.label) if is_invoice and is_paid else "",
            payment_heading=_("Payment by bank transfer"),
            payment=tuple(payment),
            mentions_heading=_("Terms and legal notices"),
            mentions=tuple(_mentions(invoice, seller, buyer, country)),
            footer=(
                _("SHA-256 fingerprint of the content: %(hash)s") % {"hash": invoice.content_hash}
                if invoice.content_hash
                else ""
            ),
            author=_text(seller, "legal_name") or _text(seller, "name"),
        )


# --- PDF ----------------------------------------------------------------------------------------------


def pdf_safe(text: str) -> str:
    """Text the PDF's standard fonts can show (WinAnsi, that is cp1252): a letter outside it becomes its
    unaccented base letter when it has one (ő -> o), anything else "?"; control characters become spaces."""
    out = []
    for char in text:
        if char == "\u202f":
            char = NBSP
        if char in "\n\t" or unicodedata.category(char) == "Cc":
            out.append("\n" if char == "\n" else " ")
            continue
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            # Only letters fall back to their base: "≠" decomposes to "=" plus a stroke, and must not
            # turn into its opposite.
            base = ""
            if unicodedata.category(char).startswith("L"):
                base = "".join(
                    c
                    for c in unicodedata.normalize("NFKD", char)
                    if not unicodedata.combining(c) and _cp1252(c)
                )
            out.append(base or "?")
        else:
            out.append(char)
    return "".join(out)


def _cp1252(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def invoice_pdf(document: InvoiceDocument) -> bytes:
    """The document as an A4 PDF in Helvetica. Invariant mode (no creation date, a content-derived file
    id) makes two renderings of the same document byte-identical."""

    def markup(text: str) -> str:
        return escape(pdf_safe(text)).replace("\n", "<br/>")

    base = ParagraphStyle("base", fontName="Helvetica", fontSize=9, leading=11.5)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10)
    bold = ParagraphStyle("bold", parent=base, fontName="Helvetica-Bold")
    right = ParagraphStyle("right", parent=base, alignment=TA_RIGHT)
    right_bold = ParagraphStyle("right_bold", parent=right, fontName="Helvetica-Bold")
    title_style = ParagraphStyle("title", parent=base, fontName="Helvetica-Bold", fontSize=16, leading=20)
    heading = ParagraphStyle(
        "heading", parent=bold, fontSize=10, leading=13, spaceBefore=6, spaceAfter=3, keepWithNext=1
    )
    stamp = ParagraphStyle("stamp", parent=title_style, textColor=colors.HexColor("#067647"))

    def para(text: str, style=base) -> Paragraph:
        return Paragraph(markup(text), style)

    def party(block: Party) -> list:
        return [
            para(block.heading, small),
            para(block.name, bold),
            *[para(line) for line in block.lines],
            *[para(field.text, small) for field in block.details],
        ]

    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=pdf_safe(document.number),
        author=pdf_safe(document.author),
        subject=pdf_safe(document.heading),
        creator="Coworking",
        lang=document.language,
        invariant=1,
    )
    width = doc.width - 12  # the frame keeps 6 pt of padding on each side
    grid = TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("LINEBELOW", (0, 1), (-1, -1), 0.3, colors.HexColor("#d0d5dd")),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
    )
    ruled = TableStyle(
        [
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#d0d5dd")),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
    )
    plain = TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])

    header_right = [para(document.heading, title_style)]
    if document.paid_stamp:
        header_right.append(para(document.paid_stamp, stamp))
    header_right += [para(field.text) for field in document.facts]
    story = [
        Table([[party(document.seller), header_right]], colWidths=[width * 0.5, width * 0.5], style=plain),
        Spacer(1, 6 * mm),
        Table([["", party(document.buyer)]], colWidths=[width * 0.5, width * 0.5], style=plain),
        Spacer(1, 6 * mm),
    ]
    rows = [[para(label, bold if i == 0 else right_bold) for i, label in enumerate(document.line_columns)]]
    for row in document.lines:
        amounts = (row.quantity, row.unit_price, row.vat_rate, row.net)
        rows.append([para(row.description), *(para(value, right) for value in amounts)])
    story.append(
        Table(
            rows,
            colWidths=[width * 0.40, width * 0.12, width * 0.18, width * 0.12, width * 0.18],
            style=grid,
            repeatRows=1,
        )
    )
    story.append(Spacer(1, 4 * mm))
    vat_rows = [[para(label, bold if i == 0 else right_bold) for i, label in enumerate(document.vat_columns)]]
    vat_rows += [[para(r.rate), para(r.base, right), para(r.vat, right)] for r in document.vat_rows]
    totals = [[para(f.label, bold), para(f.value, right_bold)] for f in document.totals + document.balance]
    story.append(
        Table(
            [
                [
                    [para(document.vat_heading, heading), Table(vat_rows, style=grid)],
                    Table(totals, colWidths=[width * 0.25, width * 0.17], style=ruled, hAlign="RIGHT"),
                ]
            ],
            colWidths=[width * 0.55, width * 0.45],
            style=plain,
        )
    )
    if document.payment:
        story.append(para(document.payment_heading, heading))
        story += [para(field.text) for field in document.payment]
    if document.mentions:
        story.append(para(document.mentions_heading, heading))
        story += [para(mention, small) for mention in document.mentions]

    footer = pdf_safe(document.footer)

    def decorate(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#475467"))
        canvas.drawString(doc.leftMargin + 6, 10 * mm, footer)
        canvas.drawRightString(
            doc.leftMargin + 6 + width, 10 * mm, f"{pdf_safe(document.number)} · {doc.page}"
        )
        canvas.restoreState()

    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()
