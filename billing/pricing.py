"""Degressive pricing: plan terms and tiers, invoice lines, quotes, the price ladder and catalogue checks.

Pure module (standard library only): no ORM, no clock, no settings, so every price the product shows or
charges can be computed and tested from its inputs alone. Prices are entered excluding VAT. An amount is
rounded exactly once, by `money.round_money`, at the moment it becomes a line amount (`make_line`); every
total is a sum of those rounded amounts, so an invoice always adds up to the cent.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Context, Decimal
from enum import StrEnum
from types import MappingProxyType

from billing.money import CURRENCY_EXPONENTS, DEFAULT_CURRENCY, currency_exponent, round_money

# Products and quotients of prices, quantities and rates must be exact (or, for a division, far more
# precise than a cent) before the one rounding, whatever decimal context the caller has set.
_EXACT = Context(prec=60)


class PlanKind(StrEnum):
    DAY_PASS = "day_pass"  # noqa: S105 (a plan kind, not a password)
    PACK_10 = "pack_10"
    MONTHLY = "monthly"
    ANNUAL = "annual"
    ROLLING_DAY = "rolling_day"


# Shortest commitment first: along this order the price per day must not rise (DESIGN.md, degressive
# pricing). A rolling day pass renews itself each open day, a slightly longer commitment than a single
# day pass, and still a commitment of one day at a time, shorter than a 10-day pack.
COMMITMENT_ORDER: tuple[PlanKind, ...] = (
    PlanKind.DAY_PASS,
    PlanKind.ROLLING_DAY,
    PlanKind.PACK_10,
    PlanKind.MONTHLY,
    PlanKind.ANNUAL,
)

# Working days a period's price buys, to show a comparable price per day. A month counts 20 working days
# (about 21.7 weekdays less public holidays and the odd day off); a year counts 220 (about 252 weekdays
# less holidays and five weeks of leave), not 12 x 20: an annual plan priced at 12 months therefore shows
# a higher price per day than the monthly one, which is the signal a manager should get. A plan whose
# members really come more or fewer days (a weekend-inclusive space, say) overrides it in PlanTerms.
NOMINAL_DAYS: Mapping[PlanKind, int] = MappingProxyType(
    {
        PlanKind.DAY_PASS: 1,
        PlanKind.ROLLING_DAY: 1,
        PlanKind.PACK_10: 10,
        PlanKind.MONTHLY: 20,
        PlanKind.ANNUAL: 220,
    }
)


def _require_decimal(value: object, name: str) -> Decimal:
    # Floats carry binary approximations of cents; ints are exact and harmless.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    return Decimal(value)


def _require_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Tier:
    """Price excluding VAT from the `first_period`-th consecutive period (1-based) until the next tier."""

    first_period: int
    unit_price: Decimal

    def __post_init__(self) -> None:
        _require_int(self.first_period, "first_period")
        _require_decimal(self.unit_price, "unit_price")


@dataclass(frozen=True)
class PlanTerms:
    """What a plan costs: `unit_price` (excluding VAT) for every period no tier covers, then the tiers.

    Terms may be constructed invalid (a manager's form being previewed); `validate_terms` lists what is
    wrong and every function that prices something refuses invalid terms with `InvalidTerms`.
    """

    kind: PlanKind
    unit_price: Decimal
    tiers: tuple[Tier, ...] = ()
    nominal_days: int | None = None
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        # Accept the stored value ("monthly") and any iterable of tiers, but keep the instance immutable.
        object.__setattr__(self, "kind", PlanKind(self.kind))
        object.__setattr__(self, "tiers", tuple(self.tiers))
        _require_decimal(self.unit_price, "unit_price")
        for tier in self.tiers:
            if not isinstance(tier, Tier):
                raise TypeError(f"tiers must be Tier instances, not {type(tier).__name__}")
        if self.nominal_days is not None:
            _require_int(self.nominal_days, "nominal_days")

    @property
    def days_per_period(self) -> int:
        """The divisor of the per-day equivalent: the plan's override, else the kind's nominal days."""
        return self.nominal_days if self.nominal_days is not None else NOMINAL_DAYS[self.kind]


@dataclass(frozen=True)
class PricingProblem:
    """One thing wrong with plan terms: a stable `code` for programs and translations, an English
    `message` for logs, and the values involved in `params` to build a translated message."""

    code: str
    message: str
    params: dict[str, object] = field(default_factory=dict)


class InvalidTerms(ValueError):
    """Raised when invalid terms are asked to price something; `problems` says why."""

    def __init__(self, problems: list[PricingProblem]):
        self.problems = problems
        super().__init__("; ".join(problem.message for problem in problems))


def validate_terms(terms: PlanTerms) -> list[PricingProblem]:
    """Everything wrong with the terms, in a stable order (empty when they can be used to price).

    A tier dearer than any earlier period is refused: the product promises that staying longer never
    costs more per period (degressive pricing), and renewals apply tiers without asking the member.
    """
    problems: list[PricingProblem] = []
    exponent = CURRENCY_EXPONENTS.get(terms.currency)
    if exponent is None:
        problems.append(
            PricingProblem(
                "unknown_currency", f"Unknown currency {terms.currency!r}.", {"currency": terms.currency}
            )
        )
    if terms.nominal_days is not None and terms.nominal_days < 1:
        problems.append(
            PricingProblem(
                "nominal_days_invalid",
                "The number of days a period buys must be at least 1.",
                {"nominal_days": terms.nominal_days},
            )
        )

    priced: list[tuple[int | None, Decimal]] = [(None, terms.unit_price)]
    priced += [(tier.first_period, tier.unit_price) for tier in terms.tiers]
    prices_usable = True
    for first_period, price in priced:
        where = "The base price" if first_period is None else f"The price from period {first_period}"
        params: dict[str, object] = {"first_period": first_period, "price": str(price)}
        if not price.is_finite():
            problems.append(PricingProblem("price_not_finite", f"{where} is not a number.", params))
            prices_usable = False
            continue
        if price < 0:
            problems.append(PricingProblem("negative_price", f"{where} must not be negative.", params))
        if exponent is not None and round_money(price, terms.currency) != price:
            problems.append(
                PricingProblem(
                    "too_many_decimals",
                    f"{where} has more than {exponent} decimal places.",
                    {**params, "places": exponent},
                )
            )

    starts = [tier.first_period for tier in terms.tiers]
    tiers_usable = True
    for start in sorted(set(starts)):
        if start < 1:
            tiers_usable = False
            problems.append(
                PricingProblem(
                    "tier_first_period_invalid",
                    f"A tier starts at period {start}; periods are numbered from 1.",
                    {"first_period": start},
                )
            )
        if starts.count(start) > 1:
            tiers_usable = False
            problems.append(
                PricingProblem(
                    "tier_duplicated", f"Two tiers start at period {start}.", {"first_period": start}
                )
            )

    if prices_usable and tiers_usable:
        ordered = sorted(terms.tiers, key=lambda tier: tier.first_period)
        # The cheapest price of any earlier period; the base price counts only if a period uses it.
        cheapest = terms.unit_price if not ordered or ordered[0].first_period > 1 else None
        for tier in ordered:
            if cheapest is not None and tier.unit_price > cheapest:
                problems.append(
                    PricingProblem(
                        "tier_price_rises",
                        f"The price from period {tier.first_period} ({tier.unit_price}) is higher than "
                        f"an earlier period's ({cheapest}).",
                        {
                            "first_period": tier.first_period,
                            "price": str(tier.unit_price),
                            "earlier_price": str(cheapest),
                        },
                    )
                )
            cheapest = tier.unit_price if cheapest is None else min(cheapest, tier.unit_price)
    return problems


def _require_valid(terms: PlanTerms) -> None:
    problems = validate_terms(terms)
    if problems:
        raise InvalidTerms(problems)


def _price_for(terms: PlanTerms, period_number: int) -> Decimal:
    covering = [tier for tier in terms.tiers if tier.first_period <= period_number]
    return max(covering, key=lambda tier: tier.first_period).unit_price if covering else terms.unit_price


def unit_price_for(terms: PlanTerms, period_number: int) -> Decimal:
    """Price excluding VAT of the `period_number`-th consecutive period (1 = the first one bought).

    Renewals ask for the number of the period being renewed into, so tiers apply automatically.
    """
    _require_valid(terms)
    if _require_int(period_number, "period_number") < 1:
        raise ValueError(f"period numbers start at 1, got {period_number}")
    return _price_for(terms, period_number)


@dataclass(frozen=True)
class Line:
    """An invoice or quote line, with the amounts an invoice must show. Build it with `make_line`."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal


def make_line(
    description: str,
    quantity: Decimal,
    unit_price: Decimal,
    vat_rate: Decimal,
    currency: str = DEFAULT_CURRENCY,
) -> Line:
    """The one place a line's amounts are computed, so quotes, invoices and credit notes agree.

    net = round(unit_price x quantity); vat = round(net x vat_rate), VAT computed on the rounded net as
    it is printed; gross = net + vat, with no further rounding. `vat_rate` is a fraction (0.20, 0.21).
    Negative quantities or prices are allowed: credit lines and credit notes use them.
    """
    quantity = _require_decimal(quantity, "quantity")
    unit_price = _require_decimal(unit_price, "unit_price")
    vat_rate = _require_decimal(vat_rate, "vat_rate")
    if not vat_rate.is_finite() or not 0 <= vat_rate <= 1:
        raise ValueError(f"a VAT rate is a fraction between 0 and 1 (0.20 for 20%), got {vat_rate}")
    net = round_money(_EXACT.multiply(unit_price, quantity), currency)
    vat = round_money(_EXACT.multiply(net, vat_rate), currency)
    return Line(description, quantity, unit_price, vat_rate, net, vat, net + vat)


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat: Decimal
    gross: Decimal


def totals(lines: Iterable[Line], currency: str = DEFAULT_CURRENCY) -> Totals:
    """Sum already-rounded lines; never recompute a total from unrounded amounts.

    Each line must be exactly what `make_line` gives in `currency`: a line rounded for another currency
    or edited by hand would make the invoice disagree with its own lines.
    """
    net = vat = gross = round_money(Decimal(0), currency)
    for line in lines:
        if line != make_line(line.description, line.quantity, line.unit_price, line.vat_rate, currency):
            raise ValueError(f"line {line.description!r} was not computed by make_line in {currency}")
        net, vat, gross = net + line.net, vat + line.vat, gross + line.gross
    return Totals(net, vat, gross)


@dataclass(frozen=True)
class Quote:
    """A priced offer: its lines and totals, and the plan's per-day equivalent.

    `per_day_net` and `per_day_gross` are those of the plan line alone (before extras and credits): they
    describe the plan, for comparison with other plans, not what this particular invoice comes to.
    """

    lines: tuple[Line, ...]
    net: Decimal
    vat: Decimal
    gross: Decimal
    per_day_net: Decimal
    per_day_gross: Decimal
    currency: str
    credit_applied: Decimal


def _per_day(amount: Decimal, days: int, currency: str) -> Decimal:
    # The 60-digit quotient is rounded once to the cent; it cannot land on a false half-cent.
    return round_money(_EXACT.divide(amount, Decimal(days)), currency)


def _applicable_credit(credit: Decimal, charged: Totals, vat_rate: Decimal, currency: str) -> Decimal:
    """The largest part of `credit` (net) that leaves neither the net, the VAT nor the gross negative.

    Capping the net alone is not enough: lines round their VAT separately, so the VAT of the credit line
    can exceed the sum of the charged lines' VAT by a cent or so when the credit takes almost everything.
    """
    minor = Decimal(1).scaleb(-currency_exponent(currency))
    applied = min(credit, charged.net)
    if vat_rate > 0:
        # round_half_up(c x rate) <= VAT charged  <=>  c x rate < VAT charged + half a minor unit.
        limit = _EXACT.divide(charged.vat + minor / 2, vat_rate)
        applied = min(applied, limit.quantize(minor, rounding=ROUND_FLOOR, context=_EXACT))
    # The floor may sit exactly on the limit, which rounds up: step down (at most once in practice).
    while applied > 0 and round_money(_EXACT.multiply(applied, vat_rate), currency) > charged.vat:
        applied -= minor
    return max(applied, Decimal(0))


def quote(
    terms: PlanTerms,
    *,
    period_number: int = 1,
    quantity: int = 1,
    vat_rate: Decimal,
    description: str = "",
    extra_lines: tuple[Line, ...] = (),
    credit: Decimal = Decimal(0),
    credit_description: str = "",
) -> Quote:
    """Price `quantity` periods of a plan at the tier of `period_number`, plus extras, less a credit.

    `credit` is an amount excluding VAT (for an upgrade: the unused part of the net price already paid).
    It becomes one negative line at the same VAT rate, capped so that no total goes below zero; what was
    used is `credit_applied` (the caller decides what happens to the rest). Extra lines must be charges
    (net >= 0): reductions go through `credit`, whose cap keeps the quote from going negative.
    Descriptions are the caller's (translated) labels: this module knows no language.
    """
    _require_valid(terms)
    if _require_int(quantity, "quantity") < 1:
        raise ValueError(f"quantity must be at least 1, got {quantity}")
    currency = terms.currency
    credit = _require_decimal(credit, "credit")
    if not credit.is_finite() or credit < 0 or round_money(credit, currency) != credit:
        raise ValueError(
            f"a credit is a non-negative amount rounded to the {currency} minor unit, got {credit}"
        )
    for extra in extra_lines:
        if extra.net < 0:
            raise ValueError(f"extra line {extra.description!r} is negative: reductions go through credit")

    plan_line = make_line(
        description, Decimal(quantity), unit_price_for(terms, period_number), vat_rate, currency
    )
    charged_lines = (plan_line, *extra_lines)
    applied = _applicable_credit(credit, totals(charged_lines, currency), plan_line.vat_rate, currency)
    credit_lines = (
        (make_line(credit_description, Decimal(1), -applied, vat_rate, currency),) if applied else ()
    )
    lines = charged_lines + credit_lines
    total = totals(lines, currency)
    days = terms.days_per_period * quantity
    return Quote(
        lines=lines,
        net=total.net,
        vat=total.vat,
        gross=total.gross,
        per_day_net=_per_day(plan_line.net, days, currency),
        per_day_gross=_per_day(plan_line.gross, days, currency),
        currency=currency,
        credit_applied=applied,
    )


@dataclass(frozen=True)
class LadderStep:
    """A run of consecutive periods at one price (`last_period` None: from `first_period` on)."""

    first_period: int
    last_period: int | None
    unit_price: Decimal
    gross: Decimal
    per_day_net: Decimal
    per_day_gross: Decimal


def ladder(terms: PlanTerms, *, vat_rate: Decimal) -> list[LadderStep]:
    """The successive prices of a renewing plan, for the managers' preview and the members' plans page.

    Steps are contiguous from period 1 and the last one is open-ended, so every period is covered; tiers
    that do not change the price are merged into the step before. The figures are those of a one-period
    quote at each step, so the page shows exactly what will be charged.
    """
    _require_valid(terms)
    starts: list[int] = []
    for start in sorted({1} | {tier.first_period for tier in terms.tiers}):
        if not starts or _price_for(terms, start) != _price_for(terms, starts[-1]):
            starts.append(start)
    steps = []
    for position, start in enumerate(starts):
        one_period = quote(terms, period_number=start, vat_rate=vat_rate)
        steps.append(
            LadderStep(
                first_period=start,
                last_period=starts[position + 1] - 1 if position + 1 < len(starts) else None,
                unit_price=_price_for(terms, start),
                gross=one_period.gross,
                per_day_net=one_period.per_day_net,
                per_day_gross=one_period.per_day_gross,
            )
        )
    return steps


def monthly_savings_hint(
    *, days_used: int, day_pass_gross: Decimal, monthly_gross: Decimal
) -> Decimal | None:
    """What a monthly pass would have saved a member who paid `days_used` day passes (in the last 30
    days, as the caller counts them): day passes paid less the monthly price, or None if no saving.

    Exact: the inputs are rounded gross amounts and the days an integer, so no rounding is needed.
    """
    if _require_int(days_used, "days_used") < 0:
        raise ValueError(f"days_used must not be negative, got {days_used}")
    day_pass_gross = _require_decimal(day_pass_gross, "day_pass_gross")
    monthly_gross = _require_decimal(monthly_gross, "monthly_gross")
    saving = day_pass_gross * days_used - monthly_gross
    return saving if saving > 0 else None


def per_day_rises(catalogue: Sequence[PlanTerms]) -> list[tuple[PlanKind, PlanKind]]:
    """(shorter, longer) pairs of the catalogue where the longer commitment costs more per day.

    Compares the first-period price excluding VAT per nominal day, exactly (p1 x d2 against p2 x d1):
    with one VAT rate for the whole catalogue, the order is the same with VAT, and rounding could only
    hide a rise or invent one. Every pair is reported, not just neighbours, so a manager sees all the
    plans a change affects. A catalogue holds one plan per kind (compare hot desks with hot desks).
    """
    seen: set[PlanKind] = set()
    for terms in catalogue:
        if terms.kind in seen:
            raise ValueError(f"the catalogue has more than one {terms.kind.value} plan")
        seen.add(terms.kind)
        _require_valid(terms)
    ordered = sorted(catalogue, key=lambda terms: COMMITMENT_ORDER.index(terms.kind))
    rises = []
    for position, shorter in enumerate(ordered):
        for longer in ordered[position + 1 :]:
            longer_cost = _EXACT.multiply(_price_for(longer, 1), Decimal(shorter.days_per_period))
            shorter_cost = _EXACT.multiply(_price_for(shorter, 1), Decimal(longer.days_per_period))
            if longer_cost > shorter_cost:
                rises.append((shorter.kind, longer.kind))
    return rises
