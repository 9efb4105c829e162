"""The one rounding helper and the minor-unit conversions at a payment provider's edge."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import money

amounts = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=6)
currencies = st.sampled_from(sorted(money.CURRENCY_EXPONENTS))


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("1.125", "1.13"),
        ("2.675", "2.68"),  # exact in Decimal, unlike the float 2.675
        ("10", "10.00"),
        ("-0.005", "-0.01"),  # half away from zero, symmetric for credits
        ("-1.125", "-1.13"),
        ("-0.004", "0.00"),
    ],
)
def test_round_money_is_half_up_to_the_cent_in_eur(amount, expected):
    rounded = money.round_money(Decimal(amount))
    assert rounded == Decimal(expected)
    assert str(rounded) == expected  # two places, and never "-0.00"


def test_round_money_follows_the_currency_minor_unit():
    assert str(money.round_money(Decimal("1234.5"), "JPY")) == "1235"
    assert str(money.round_money(Decimal("0.125"), "CHF")) == "0.13"


def test_round_money_accepts_integers():
    assert str(money.round_money(7)) == "7.00"


@pytest.mark.parametrize("bad", [0.1, 1e3, True])
def test_round_money_refuses_floats_and_booleans(bad):
    with pytest.raises(TypeError):
        money.round_money(bad)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_round_money_refuses_non_finite_amounts(bad):
    with pytest.raises(ValueError, match="finite"):
        money.round_money(Decimal(bad))


@pytest.mark.parametrize("currency", ["XYZ", "eur", ""])
def test_unknown_currencies_are_refused(currency):
    with pytest.raises(ValueError, match="currency"):
        money.round_money(Decimal(1), currency)
    with pytest.raises(ValueError, match="currency"):
        money.from_minor_units(1, currency)


@given(amount=amounts, currency=currencies)
def test_round_money_is_idempotent_and_within_half_a_minor_unit(amount, currency):
    rounded = money.round_money(amount, currency)
    assert money.round_money(rounded, currency) == rounded
    half = Decimal(1).scaleb(-money.currency_exponent(currency)) / 2
    assert abs(rounded - amount) <= half


@given(amount=amounts, currency=currencies)
def test_round_money_is_symmetric_around_zero(amount, currency):
    assert money.round_money(-amount, currency) == -money.round_money(amount, currency)


@given(units=st.integers(min_value=-(10**12), max_value=10**12), currency=currencies)
def test_minor_units_round_trip(units, currency):
    amount = money.from_minor_units(units, currency)
    assert money.round_money(amount, currency) == amount
    assert money.to_minor_units(amount, currency) == units


@given(amount=amounts, currency=currencies)
def test_rounded_amounts_round_trip_through_minor_units(amount, currency):
    rounded = money.round_money(amount, currency)
    assert money.from_minor_units(money.to_minor_units(rounded, currency), currency) == rounded


def test_minor_units_examples():
    assert money.to_minor_units(Decimal("12.34")) == 1234
    assert money.to_minor_units(Decimal("-0.01"), "EUR") == -1
    assert money.to_minor_units(Decimal("1500"), "JPY") == 1500
    assert str(money.from_minor_units(1234)) == "12.34"
    assert str(money.from_minor_units(100, "EUR")) == "1.00"
    assert str(money.from_minor_units(5, "JPY")) == "5"


def test_to_minor_units_refuses_unrounded_amounts():
    with pytest.raises(ValueError, match="rounded"):
        money.to_minor_units(Decimal("12.345"), "EUR")
    with pytest.raises(ValueError, match="rounded"):
        money.to_minor_units(Decimal("12.5"), "JPY")


def test_to_minor_units_accepts_trailing_zeros():
    assert money.to_minor_units(Decimal("12.3400"), "EUR") == 1234


@pytest.mark.parametrize("bad", [1.5, "1", True])
def test_from_minor_units_wants_an_integer(bad):
    with pytest.raises(TypeError):
        money.from_minor_units(bad, "EUR")


def test_to_minor_units_refuses_floats():
    with pytest.raises(TypeError):
        money.to_minor_units(12.34, "EUR")
