"""Money arithmetic: the one rounding helper and the conversions to a payment provider's minor units.

Pure module (standard library only). Amounts are `Decimal` everywhere: a float cannot represent most
cents exactly (2.675 is 2.67499999...), so floats are refused rather than silently converted. Every
amount that appears on a quote, an invoice or a payment goes through `round_money`, so the same input
always gives the same cents, whichever code path computed it.
"""

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal
from types import MappingProxyType

# ISO 4217 exponents (digits after the decimal point of the minor unit). EUR is the product's currency;
# CHF and JPY are here to keep the code honest about currencies whose minor unit is not the cent.
CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType({"EUR": 2, "CHF": 2, "JPY": 0})
DEFAULT_CURRENCY = "EUR"

# Quantize must not depend on the caller's decimal context (a lowered precision would raise or round
# differently): use a private one with room for any amount a DecimalField(12, 2) can hold and more.
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP)


def currency_exponent(currency: str) -> int:
    """Digits of the currency's minor unit; an unknown code is an error, never a guessed default."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except (KeyError, TypeError):
        raise ValueError(f"unknown currency {currency!r}") from None


def _require_decimal(amount: object) -> Decimal:
    # bool is an int subclass; True euros is a bug, not an amount.
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"money amounts are Decimal (or int), not {type(amount).__name__}")
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError(f"money amounts must be finite, got {value}")
    return value


def round_money(amount: Decimal, currency: str = DEFAULT_CURRENCY) -> Decimal:
    """Round to the currency's minor unit, half up (half away from zero: -0.005 gives -0.01).

    Half-up is the commercial rounding invoices are checked against; being symmetric around zero, a
    credit line rounds to exactly the opposite of the charge it cancels. The result always carries the
    currency's number of places (10 -> 10.00) and never shows as "-0.00".
    """
    value = _require_decimal(amount)
    quantum = Decimal(1).scaleb(-currency_exponent(currency))
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP, context=_CONTEXT)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def to_minor_units(amount: Decimal, currency: str = DEFAULT_CURRENCY) -> int:
    """The integer a payment provider expects (12.34 EUR -> 1234), for use at its edge only.

    The amount must already be rounded: rounding here would let a provider charge a different amount
    from the one on the invoice, so an unrounded amount is a bug to surface, not to absorb.
    """
    value = _require_decimal(amount)
    if round_money(value, currency) != value:
        raise ValueError(f"{value} is not rounded to the minor unit of {currency}")
    return int(value.scaleb(currency_exponent(currency), context=_CONTEXT))


def from_minor_units(units: int, currency: str = DEFAULT_CURRENCY) -> Decimal:
    """The amount of an integer count of minor units (1234 -> Decimal("12.34") in EUR)."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError(f"minor units are an int, not {type(units).__name__}")
    return round_money(Decimal(units).scaleb(-currency_exponent(currency), context=_CONTEXT), currency)
