from decimal import Decimal, InvalidOperation

from django import template

from billing.documents import format_money

register = template.Library()


@register.filter
def money(amount, currency: str = "EUR") -> str:
    """{{ amount|money:"EUR" }}: "1 234,50 €" in French, "€1,234.50" in English."""
    try:
        return format_money(Decimal(amount), currency)
    except (InvalidOperation, TypeError, ValueError):
        return ""
