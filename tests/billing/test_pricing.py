"""Degressive pricing: tiers, invoice lines, quotes, the price ladder and the per-day warnings."""

import itertools
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from billing import pricing
from billing.money import round_money
from billing.pricing import Line, PlanKind, PlanTerms, Tier

D = Decimal
VAT_FR, VAT_BE = D("0.20"), D("0.21")

prices = st.decimals(min_value=0, max_value=20_000, places=2)
vat_rates = st.sampled_from(
    [D(0), D("0.055"), D("0.06"), D("0.10"), D("0.12"), VAT_FR, VAT_BE]
) | st.decimals(min_value=0, max_value=1, places=4)
quantities = st.integers(min_value=1, max_value=50)
kinds = st.sampled_from(list(PlanKind))


@st.composite
def valid_terms(draw, kind=kinds):
    """Terms whose tiers never raise the price: a base price then cheaper (or equal) tiers."""
    base = draw(prices)
    starts = sorted(draw(st.sets(st.integers(min_value=1, max_value=60), max_size=5)))
    tiers, price = [], base
    for start in starts:
        price = draw(st.decimals(min_value=0, max_value=price, places=2))
        tiers.append(Tier(start, price))
    nominal = draw(st.none() | st.integers(min_value=1, max_value=400))
    return PlanTerms(draw(kind), base, tuple(tiers), nominal_days=nominal)


@st.composite
def lines(draw):
    quantity = draw(st.decimals(min_value=0, max_value=100, places=2))
    return pricing.make_line("Extra", quantity, draw(prices), draw(vat_rates), "EUR")


def assert_line_is_consistent(line: Line) -> None:
    assert line.net == round_money(line.unit_price * line.quantity)
    assert line.vat == round_money(line.net * line.vat_rate)
    assert line.gross == line.net + line.vat


# The example of DESIGN.md: months 1-3 at 250, 4-12 at 230, 13+ at 210 (excluding VAT).
MONTHLY = PlanTerms(PlanKind.MONTHLY, D("250"), (Tier(4, D("230")), Tier(13, D("210"))))


@pytest.mark.parametrize(
    ("period", "price"), [(1, 250), (3, 250), (4, 230), (12, 230), (13, 210), (500, 210)]
)
def test_the_tier_covering_a_period_prices_it(period, price):
    assert pricing.unit_price_for(MONTHLY, period) == D(price)


@pytest.mark.parametrize("period", [0, -1])
def test_periods_are_numbered_from_one(period):
    with pytest.raises(ValueError, match="period"):
        pricing.unit_price_for(MONTHLY, period)


@pytest.mark.parametrize(
    ("period", "vat_rate", "vat", "gross", "per_day_net", "per_day_gross"),
    [
        (1, VAT_FR, "50.00", "300.00", "12.50", "15.00"),
        (4, VAT_FR, "46.00", "276.00", "11.50", "13.80"),
        (13, VAT_FR, "42.00", "252.00", "10.50", "12.60"),
        (1, VAT_BE, "52.50", "302.50", "12.50", "15.13"),
        (4, VAT_BE, "48.30", "278.30", "11.50", "13.92"),
        (13, VAT_BE, "44.10", "254.10", "10.50", "12.71"),
    ],
)
def test_quote_examples_in_france_and_belgium(period, vat_rate, vat, gross, per_day_net, per_day_gross):
    q = pricing.quote(MONTHLY, period_number=period, vat_rate=vat_rate, description="Abonnement mensuel")
    (line,) = q.lines
    assert line.description == "Abonnement mensuel"
    assert line.unit_price == pricing.unit_price_for(MONTHLY, period)
    assert (str(q.vat), str(q.gross)) == (vat, gross)
    assert (str(q.per_day_net), str(q.per_day_gross)) == (per_day_net, per_day_gross)
    assert q.net == line.net
    assert q.currency == "EUR"


def test_ladder_example():
    steps = pricing.ladder(MONTHLY, vat_rate=VAT_BE)
    assert [(s.first_period, s.last_period, s.unit_price, s.gross) for s in steps] == [
        (1, 3, D("250"), D("302.50")),
        (4, 12, D("230"), D("278.30")),
        (13, None, D("210"), D("254.10")),
    ]
    assert [(str(s.per_day_net), str(s.per_day_gross)) for s in steps] == [
        ("12.50", "15.13"),
        ("11.50", "13.92"),
        ("10.50", "12.71"),
    ]


def test_ladder_merges_tiers_that_do_not_change_the_price():
    terms = PlanTerms(PlanKind.ANNUAL, D("2400"), (Tier(2, D("2400")), Tier(3, D("2200"))))
    steps = pricing.ladder(terms, vat_rate=VAT_FR)
    assert [(s.first_period, s.last_period, s.unit_price) for s in steps] == [
        (1, 2, D("2400")),
        (3, None, D("2200")),
    ]


def test_a_tier_on_the_first_period_replaces_the_base_price():
    terms = PlanTerms(PlanKind.MONTHLY, D("300"), (Tier(1, D("250")),))
    assert pricing.unit_price_for(terms, 1) == D("250")
    assert [(s.first_period, s.last_period) for s in pricing.ladder(terms, vat_rate=VAT_FR)] == [(1, None)]


def test_nominal_days_default_per_kind_and_can_be_overridden():
    assert pricing.NOMINAL_DAYS == {
        PlanKind.DAY_PASS: 1,
        PlanKind.ROLLING_DAY: 1,
        PlanKind.PACK_10: 10,
        PlanKind.MONTHLY: 20,
        PlanKind.ANNUAL: 220,
    }
    assert tuple(pricing.COMMITMENT_ORDER) == (
        PlanKind.DAY_PASS,
        PlanKind.ROLLING_DAY,
        PlanKind.PACK_10,
        PlanKind.MONTHLY,
        PlanKind.ANNUAL,
    )
    terms = PlanTerms(PlanKind.MONTHLY, D("250"), nominal_days=25)
    assert pricing.quote(terms, vat_rate=VAT_FR).per_day_net == D("10.00")


def test_per_day_divides_by_the_quantity_bought():
    pack = PlanTerms(PlanKind.PACK_10, D("150"))
    q = pricing.quote(pack, quantity=2, vat_rate=VAT_FR)
    assert (q.net, q.gross, q.per_day_net, q.per_day_gross) == (D("300"), D("360"), D("15"), D("18"))


def test_plan_kind_accepts_its_stored_value():
    assert PlanTerms("monthly", D("250")).kind is PlanKind.MONTHLY


# ---------------------------------------------------------------- validation


def codes(terms: PlanTerms) -> list[str]:
    return [problem.code for problem in pricing.validate_terms(terms)]


def test_valid_terms_have_no_problem():
    assert pricing.validate_terms(MONTHLY) == []


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (PlanTerms(PlanKind.DAY_PASS, D("-1")), ["negative_price"]),
        (PlanTerms(PlanKind.MONTHLY, D("250"), (Tier(2, D("-5")),)), ["negative_price"]),
        (PlanTerms(PlanKind.MONTHLY, D("250"), (Tier(0, D("200")),)), ["tier_first_period_invalid"]),
        (
            PlanTerms(PlanKind.MONTHLY, D("250"), (Tier(4, D("230")), Tier(4, D("220")))),
            ["tier_duplicated"],
        ),
        (PlanTerms(PlanKind.MONTHLY, D("250"), (Tier(4, D("260")),)), ["tier_price_rises"]),
        # Rising above an earlier period counts even when it is below the period just before.
        (
            PlanTerms(PlanKind.MONTHLY, D("250"), (Tier(4, D("200")), Tier(13, D("210")))),
            ["tier_price_rises"],
        ),
        (PlanTerms(PlanKind.DAY_PASS, D("25.001")), ["too_many_decimals"]),
        (PlanTerms(PlanKind.DAY_PASS, D("25"), (Tier(3, D("24.999")),)), ["too_many_decimals"]),
        (PlanTerms(PlanKind.DAY_PASS, D("2500.5"), currency="JPY"), ["too_many_decimals"]),
        (PlanTerms(PlanKind.DAY_PASS, D("NaN")), ["price_not_finite"]),
        (PlanTerms(PlanKind.DAY_PASS, D("25"), currency="XYZ"), ["unknown_currency"]),
        (PlanTerms(PlanKind.DAY_PASS, D("25"), nominal_days=0), ["nominal_days_invalid"]),
    ],
)
def test_problems_have_stable_codes(terms, expected):
    problems = pricing.validate_terms(terms)
    assert [p.code for p in problems] == expected
    assert all(p.message and isinstance(p.params, dict) for p in problems)


def test_tier_order_in_the_tuple_does_not_matter():
    shuffled = PlanTerms(PlanKind.MONTHLY, D("250"), (Tier(13, D("210")), Tier(4, D("230"))))
    assert codes(shuffled) == []
    assert [pricing.unit_price_for(shuffled, k) for k in (1, 4, 13)] == [D("250"), D("230"), D("210")]


def test_invalid_terms_price_nothing():
    rising = PlanTerms(PlanKind.MONTHLY, D("250"), (Tier(4, D("260")),))
    with pytest.raises(pricing.InvalidTerms) as caught:
        pricing.quote(rising, vat_rate=VAT_FR)
    assert [p.code for p in caught.value.problems] == ["tier_price_rises"]
    with pytest.raises(pricing.InvalidTerms):
        pricing.ladder(rising, vat_rate=VAT_FR)


def test_floats_are_refused_at_construction():
    with pytest.raises(TypeError):
        PlanTerms(PlanKind.DAY_PASS, 25.0)
    with pytest.raises(TypeError):
        Tier(2, 20.0)
    with pytest.raises(TypeError):
        pricing.make_line("x", D(1), D(1), 0.2, "EUR")


# ---------------------------------------------------------------- lines, totals and quotes


@given(quantity=st.decimals(min_value=-100, max_value=100, places=3), unit=prices, rate=vat_rates)
def test_every_line_is_rounded_once_per_amount(quantity, unit, rate):
    assert_line_is_consistent(pricing.make_line("x", quantity, unit, rate, "EUR"))


@pytest.mark.parametrize("rate", [D("-0.01"), D("1.01")])
def test_vat_rates_are_fractions(rate):
    with pytest.raises(ValueError, match="VAT"):
        pricing.make_line("x", D(1), D(10), rate, "EUR")


def test_line_amounts_round_half_up():
    line = pricing.make_line("Salle de réunion", D("1.5"), D("12.33"), VAT_FR, "EUR")
    # 18.495 -> 18.50; 18.50 * 0.20 = 3.70
    assert (line.net, line.vat, line.gross) == (D("18.50"), D("3.70"), D("22.20"))


@given(items=st.lists(lines(), max_size=8))
def test_totals_are_the_sums_of_the_rounded_lines(items):
    result = pricing.totals(items, "EUR")
    assert result.net == sum((line.net for line in items), D(0))
    assert result.vat == sum((line.vat for line in items), D(0))
    assert result.gross == sum((line.gross for line in items), D(0))
    assert result.gross == result.net + result.vat


def test_totals_refuse_lines_rounded_for_another_currency():
    line = pricing.make_line("x", D(1), D("10.5"), D(0), "CHF")
    with pytest.raises(ValueError, match="JPY"):
        pricing.totals([line], "JPY")


@given(
    terms=valid_terms(),
    period=st.integers(min_value=1, max_value=100),
    quantity=quantities,
    rate=vat_rates,
    extras=st.lists(lines(), max_size=4),
    credit=st.decimals(min_value=0, max_value=1_000_000, places=2),
)
def test_a_quote_is_never_negative_and_adds_up(terms, period, quantity, rate, extras, credit):
    q = pricing.quote(
        terms,
        period_number=period,
        quantity=quantity,
        vat_rate=rate,
        extra_lines=tuple(extras),
        credit=credit,
    )
    assert q.net >= 0
    assert q.vat >= 0
    assert q.gross >= 0
    for line in q.lines:
        assert_line_is_consistent(line)
    assert q.net == sum((line.net for line in q.lines), D(0))
    assert q.vat == sum((line.vat for line in q.lines), D(0))
    assert q.gross == q.net + q.vat
    assert 0 <= q.credit_applied <= credit
    assert q.lines[0].unit_price == pricing.unit_price_for(terms, period)
    assert q.lines[0].quantity == quantity
    assert q.lines[1 : 1 + len(extras)] == tuple(extras)
    if q.credit_applied:
        assert q.lines[-1].net == -q.credit_applied
        assert q.lines[-1].vat_rate == rate
    else:
        assert len(q.lines) == 1 + len(extras)
    if q.credit_applied < credit:  # capped no more than needed: one more cent would break a total
        charged = q.lines[: 1 + len(extras)]
        more = q.credit_applied + D("0.01")
        assert more > sum(line.net for line in charged) or round_money(more * rate) > sum(
            line.vat for line in charged
        )


@given(terms=valid_terms(), rate=vat_rates, data=st.data())
def test_a_credit_is_applied_in_full_when_the_plan_covers_it(terms, rate, data):
    plan_net = pricing.quote(terms, vat_rate=rate).net
    credit = data.draw(st.decimals(min_value=0, max_value=plan_net, places=2))
    assert pricing.quote(terms, vat_rate=rate, credit=credit).credit_applied == credit


def test_upgrade_credit_example():
    q = pricing.quote(MONTHLY, vat_rate=VAT_FR, credit=D("100"), credit_description="Avoir")
    assert [(line.description, line.net, line.vat, line.gross) for line in q.lines] == [
        ("", D("250.00"), D("50.00"), D("300.00")),
        ("Avoir", D("-100.00"), D("-20.00"), D("-120.00")),
    ]
    assert (q.net, q.vat, q.gross, q.credit_applied) == (D("150.00"), D("30.00"), D("180.00"), D("100.00"))
    # The per-day equivalent is the plan's, not what is left after the credit.
    assert q.per_day_gross == D("15.00")


def test_a_credit_larger_than_the_quote_is_capped_at_zero():
    q = pricing.quote(MONTHLY, vat_rate=VAT_FR, credit=D("1000"))
    assert (q.net, q.vat, q.gross, q.credit_applied) == (D(0), D(0), D(0), D("250"))


def test_the_credit_cap_also_keeps_vat_from_going_negative():
    # Two extras of 0.02 at 20% carry no VAT each (0.004 -> 0.00), but a 0.04 credit would carry -0.01.
    extras = tuple(pricing.make_line("x", D(1), D("0.02"), VAT_FR, "EUR") for _ in range(2))
    free = PlanTerms(PlanKind.DAY_PASS, D(0))
    q = pricing.quote(free, vat_rate=VAT_FR, extra_lines=extras, credit=D("0.04"))
    assert q.vat >= 0
    assert q.gross >= 0
    assert q.credit_applied == D("0.02")  # 0.02 * 0.20 = 0.004 -> 0.00 VAT; 0.03 would give -0.01


def test_quote_arguments_are_checked():
    with pytest.raises(ValueError, match="quantity"):
        pricing.quote(MONTHLY, quantity=0, vat_rate=VAT_FR)
    with pytest.raises(ValueError, match="credit"):
        pricing.quote(MONTHLY, vat_rate=VAT_FR, credit=D("-1"))
    refund = pricing.make_line("Remise", D(1), D("-10"), VAT_FR, "EUR")
    with pytest.raises(ValueError, match="credit"):
        pricing.quote(MONTHLY, vat_rate=VAT_FR, extra_lines=(refund,))


@given(
    terms=valid_terms(), rate=vat_rates, quantity=quantities, period=st.integers(min_value=1, max_value=80)
)
def test_with_valid_tiers_the_per_day_price_never_rises(terms, rate, quantity, period):
    now = pricing.quote(terms, period_number=period, quantity=quantity, vat_rate=rate)
    later = pricing.quote(terms, period_number=period + 1, quantity=quantity, vat_rate=rate)
    assert later.per_day_net <= now.per_day_net
    assert later.per_day_gross <= now.per_day_gross


@given(terms=valid_terms(), rate=vat_rates)
def test_the_ladder_is_contiguous_and_covers_every_period(terms, rate):
    steps = pricing.ladder(terms, vat_rate=rate)
    assert steps[0].first_period == 1
    assert steps[-1].last_period is None
    assert all(step.last_period is not None for step in steps[:-1])
    for step, following in itertools.pairwise(steps):
        assert following.first_period == step.last_period + 1
        assert following.unit_price < step.unit_price  # distinct, and degressive
    horizon = max((tier.first_period for tier in terms.tiers), default=1) + 3
    for period in range(1, horizon):
        (step,) = [s for s in steps if s.first_period <= period and (s.last_period or period) >= period]
        assert step.unit_price == pricing.unit_price_for(terms, period)
        q = pricing.quote(terms, period_number=period, vat_rate=rate)
        assert (step.gross, step.per_day_net, step.per_day_gross) == (q.gross, q.per_day_net, q.per_day_gross)


# ---------------------------------------------------------------- savings and catalogue warnings


@pytest.mark.parametrize(
    ("days", "expected"),
    [(12, D("60.00")), (11, D("30.00")), (10, None), (3, None), (0, None)],
)
def test_monthly_savings_hint(days, expected):
    hint = pricing.monthly_savings_hint(days_used=days, day_pass_gross=D("30.00"), monthly_gross=D("300.00"))
    assert hint == expected


def test_monthly_savings_hint_checks_its_inputs():
    with pytest.raises(ValueError, match="days"):
        pricing.monthly_savings_hint(days_used=-1, day_pass_gross=D(30), monthly_gross=D(300))
    with pytest.raises(TypeError):
        pricing.monthly_savings_hint(days_used=3, day_pass_gross=30.0, monthly_gross=D(300))


@st.composite
def degressive_catalogues(draw):
    """A catalogue (any subset of kinds) whose per-day prices never rise along COMMITMENT_ORDER."""
    chosen = [k for k in pricing.COMMITMENT_ORDER if draw(st.booleans())]
    assume(len(chosen) >= 2)
    per_day = draw(st.decimals(min_value=1, max_value=100, places=2))
    catalogue = []
    for kind in chosen:
        per_day = draw(st.decimals(min_value=0, max_value=per_day, places=2))
        days = draw(st.none() | st.integers(min_value=1, max_value=300))
        nominal = days or pricing.NOMINAL_DAYS[kind]
        catalogue.append(PlanTerms(kind, per_day * nominal, nominal_days=days))
    return catalogue


@given(catalogue=degressive_catalogues())
def test_a_degressive_catalogue_raises_no_warning(catalogue):
    assert pricing.per_day_rises(catalogue) == []


@given(catalogue=degressive_catalogues(), data=st.data())
def test_a_longer_plan_dearer_per_day_is_reported(catalogue, data):
    j = data.draw(st.integers(min_value=1, max_value=len(catalogue) - 1))
    days = catalogue[j].nominal_days or pricing.NOMINAL_DAYS[catalogue[j].kind]
    dearest = catalogue[0].unit_price / (catalogue[0].nominal_days or pricing.NOMINAL_DAYS[catalogue[0].kind])
    bumped = PlanTerms(catalogue[j].kind, round_money(dearest * days) + D("0.01"), nominal_days=days)
    changed = [*catalogue[:j], bumped, *catalogue[j + 1 :]]
    assert pricing.per_day_rises(changed) == [(catalogue[i].kind, catalogue[j].kind) for i in range(j)]


def test_per_day_rises_example():
    catalogue = [
        PlanTerms(PlanKind.DAY_PASS, D("25")),
        PlanTerms(PlanKind.PACK_10, D("200")),
        PlanTerms(PlanKind.MONTHLY, D("250")),  # 12.50 a day
        PlanTerms(PlanKind.ANNUAL, D("3000")),  # 12 months at 250: 13.64 a day over 220 days
    ]
    assert pricing.per_day_rises(catalogue) == [(PlanKind.MONTHLY, PlanKind.ANNUAL)]


def test_per_day_rises_compares_one_plan_per_kind():
    with pytest.raises(ValueError, match="monthly"):
        pricing.per_day_rises([PlanTerms(PlanKind.MONTHLY, D(250)), PlanTerms(PlanKind.MONTHLY, D(200))])
