"""Tiny server-side SVG charts (bars and lines) for the managers' dashboard: no script, no CDN.

A chart is drawn from the same values it lists in its table, so what a manager reads in the table is
what the picture shows. Every text is escaped (format_html); the picture is an image with a name and a
description (role="img", <title>, <desc>) and each bar or point carries its own <title> for pointer
users; screen-reader and keyboard users read the table. Colours come from classes (static/css/
dashboard.css): the site's CSP allows no inline style. Coordinates are plain numbers written with
Python's locale-independent formatting; the figures in the table are localised (1 234,5 in French).
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

Number = Decimal | int | float

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 32, 36
MAX_AXIS_LABELS = 12
EMPTY = "—"


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[Number | None]


def plain_number(decimals: int = 0) -> Callable[[Number], str]:
    def format_value(value: Number) -> str:
        return number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)

    return format_value


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is at least `value` (an axis top easy to read)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * 10.0**exponent
        if top >= value * (1 - 1e-12):
            return top
    return 10.0 ** (exponent + 1)  # pragma: no cover (the loop always returns)


def _n(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class Chart:
    """A bar chart (one group of bars per category) or a line chart (one line per series).

    categories: the full label of each category (table rows); axis_labels: shorter ones for the x axis
    (the categories when empty); formatter: how a value is written (table, tooltips, y axis)."""

    chart_id: str
    title: str
    kind: str
    categories: Sequence[str]
    series: Sequence[Series]
    category_header: str
    formatter: Callable[[Number], str] = field(default_factory=plain_number)
    axis_labels: Sequence[str] = ()
    y_max: Number | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("bar", "line"):
            raise ValueError(f"unknown chart kind {self.kind!r}")
        for series in self.series:
            if len(series.values) != len(self.categories):
                raise ValueError(
                    f"series {series.label!r} has {len(series.values)} values, not {len(self.categories)}"
                )
        if self.axis_labels and len(self.axis_labels) != len(self.categories):
            raise ValueError("axis_labels must match the categories")

    # --- figures ------------------------------------------------------------------------------------

    def format(self, value: Number | None) -> str:
        return EMPTY if value is None else self.formatter(value)

    def rows(self) -> list[tuple[str, list[tuple[Number | None, str]]]]:
        """(category, [(value, formatted value) per series]) in order: what the table lists."""
        return [
            (category, [(series.values[i], self.format(series.values[i])) for series in self.series])
            for i, category in enumerate(self.categories)
        ]

    def table(self) -> SafeString:
        header = format_html_join("", '<th scope="col">{}</th>', ((series.label,) for series in self.series))
        body = format_html_join(
            "\n",
            '<tr><th scope="row">{}</th>{}</tr>',
            (
                (
                    category,
                    format_html_join(
                        "",
                        '<td data-value="{}">{}</td>',
                        (("" if value is None else str(value), shown) for value, shown in cells),
                    ),
                )
                for category, cells in self.rows()
            ),
        )
        return format_html(
            '<table class="chart-data" id="{}-data"><caption>{}</caption>'
            '<thead><tr><th scope="col">{}</th>{}</tr></thead><tbody>\n{}\n</tbody></table>',
            self.chart_id,
            self.title,
            self.category_header,
            header,
            body,
        )

    # --- picture ------------------------------------------------------------------------------------

    def _bounds(self) -> tuple[float, float]:
        values = [float(v) for series in self.series for v in series.values if v is not None]
        high = max([0.0, *values])
        low = min([0.0, *values])
        top = float(self.y_max) if self.y_max is not None and self.y_max >= high else nice_ceiling(high)
        bottom = -nice_ceiling(-low) if low < 0 else 0.0
        return bottom, top

    def svg(self) -> SafeString:
        bottom, top = self._bounds()
        plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        count = max(len(self.categories), 1)
        band = plot_width / count

        def y(value: float) -> float:
            return TOP + plot_height * (top - value) / (top - bottom)

        parts: list[SafeString] = [
            format_html('<title id="{}-title">{}</title>', self.chart_id, self.title),
            format_html(
                '<desc id="{}-desc">{}</desc>',
                self.chart_id,
                self.description or _("The table beside the chart lists its figures."),
            ),
        ]
        # Axis: the baseline, the top and the middle, each with its figure; counts get no half-way tick
        # (2.5 passes would be written 2 or 3).
        middle = (top + bottom) / 2 if bottom < 0 else top / 2
        counts = all(isinstance(v, int) for series in self.series for v in series.values if v is not None)
        ticks = sorted({bottom, 0.0, top} | ({middle} if not counts or middle == int(middle) else set()))
        for tick in ticks:
            parts.append(
                format_html(
                    '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}"/>'
                    '<text class="axis" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>',
                    LEFT,
                    _n(y(tick)),
                    WIDTH - RIGHT,
                    _n(y(tick)),
                    LEFT - 6,
                    _n(y(tick)),
                    self.formatter(_tick_value(tick)),
                )
            )
        labels = self.axis_labels or self.categories
        step = max(1, math.ceil(len(labels) / MAX_AXIS_LABELS))
        for i, label in enumerate(labels):
            if i % step == 0:
                parts.append(
                    format_html(
                        '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                        _n(LEFT + band * (i + 0.5)),
                        HEIGHT - BOTTOM + 16,
                        label,
                    )
                )
        # Legend, top left.
        x = float(LEFT)
        for s, series in enumerate(self.series):
            parts.append(
                format_html(
                    '<rect class="series-{}" x="{}" y="8" width="12" height="12"/>'
                    '<text class="legend" x="{}" y="18">{}</text>',
                    s,
                    _n(x),
                    _n(x + 16),
                    series.label,
                )
            )
            x += 24 + 7 * len(series.label)
        parts += self._bars(y, band) if self.kind == "bar" else self._lines(y, band)
        return format_html(
            '<svg class="chart chart-{}" id="{}" role="img" aria-labelledby="{}-title" '
            'aria-describedby="{}-desc" viewBox="0 0 {} {}" xmlns="http://www.w3.org/2000/svg" '
            'focusable="false">{}</svg>',
            self.kind,
            self.chart_id,
            self.chart_id,
            self.chart_id,
            WIDTH,
            HEIGHT,
            format_html_join("", "{}", ((part,) for part in parts)),  # safe parts stay as they are
        )

    def _tooltip(self, category: str, series: Series, value: Number | None) -> str:
        return f"{category} · {series.label}: {self.format(value)}"

    def _bars(self, y, band: float) -> list[SafeString]:
        parts = []
        count = max(len(self.series), 1)
        width = band * 0.8 / count
        for i, category in enumerate(self.categories):
            for s, series in enumerate(self.series):
                value = series.values[i]
                if value is None:
                    continue
                top, base = y(max(float(value), 0.0)), y(min(float(value), 0.0))
                parts.append(
                    format_html(
                        '<rect class="series-{}" x="{}" y="{}" width="{}" height="{}">'
                        "<title>{}</title></rect>",
                        s,
                        _n(LEFT + band * (i + 0.1) + width * s),
                        _n(top),
                        _n(max(width - 1, 1)),
                        _n(base - top),
                        self._tooltip(category, series, value),
                    )
                )
        return parts

    def _lines(self, y, band: float) -> list[SafeString]:
        parts = []
        for s, series in enumerate(self.series):
            # A missing value (a closed day) breaks the line rather than drawing it through zero.
            runs: list[list[str]] = [[]]
            for i, value in enumerate(series.values):
                if value is None:
                    runs.append([])
                else:
                    runs[-1].append(f"{_n(LEFT + band * (i + 0.5))},{_n(y(float(value)))}")
            for run in runs:
                if len(run) > 1:
                    parts.append(
                        format_html('<polyline class="line series-{}" points="{}"/>', s, " ".join(run))
                    )
            for i, (category, value) in enumerate(zip(self.categories, series.values, strict=True)):
                if value is not None:
                    parts.append(
                        format_html(
                            '<circle class="series-{}" cx="{}" cy="{}" r="3"><title>{}</title></circle>',
                            s,
                            _n(LEFT + band * (i + 0.5)),
                            _n(y(float(value))),
                            self._tooltip(category, series, value),
                        )
                    )
        return parts


def _tick_value(tick: float) -> Number:
    # Axis figures go through the chart's formatter, which expects what the data holds (Decimal, int).
    return int(tick) if tick == int(tick) else Decimal(repr(tick))


def bar_chart(**kwargs) -> Chart:
    return Chart(kind="bar", **kwargs)


def line_chart(**kwargs) -> Chart:
    return Chart(kind="line", **kwargs)
