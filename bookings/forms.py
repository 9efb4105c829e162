import re
from datetime import date, time

from django import forms
from django.utils.translation import gettext_lazy as _

from bookings.models import DayPart

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # fullmatch(): "$" would let a newline in


def iso_day(value) -> date | None:
    """The day written YYYY-MM-DD, and only so (date.fromisoformat alone also takes 20261207), or None."""
    if not isinstance(value, str) or not ISO_DAY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class IsoDateField(forms.DateField):
    """A DateField that reads YYYY-MM-DD (what the pages send) before the language's own formats: in French
    those come first, and a grid button's day failed four strptime() calls before it was read."""

    def to_python(self, value):
        day = iso_day(value.strip()) if isinstance(value, str) else None
        return day if day is not None else super().to_python(value)


class DayForm(forms.Form):
    date = IsoDateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


CHOICE = re.compile(r"(desk|zone|room):(\d{1,12}):([\w:-]{1,20})", re.ASCII)
DESK_PARTS = frozenset({DayPart.FULL_DAY, DayPart.MORNING, DayPart.AFTERNOON})


def parse_choice(data) -> dict | None:
    """What one button of the availability grid asks for: `choice` is `desk:<resource>:<part>`,
    `zone:<zone>:<part>` or `room:<resource>:<HH:MM>-<HH:MM>`, for the day in `date` (YYYY-MM-DD). None
    when anything is malformed: the grid writes these fields, so there is no field to point at, only
    "This request is not valid." Read without a Form: it runs on every booking POST, and building a Form
    (copying its fields) cost more than reading the two values."""
    day, raw_choice = iso_day(data.get("date")), data.get("choice")
    found = CHOICE.fullmatch(raw_choice) if isinstance(raw_choice, str) else None
    if day is None or found is None:
        return None
    kind, raw_id, rest = found.groups()
    parsed = {"date": day, "choice": raw_choice, "kind": kind, "target_id": int(raw_id)}
    if kind in {"desk", "zone"}:
        if rest not in DESK_PARTS:
            return None
        parsed["part"] = rest
        return parsed
    start, dash, end = rest.partition("-")
    try:
        parsed["start_time"], parsed["end_time"] = time.fromisoformat(start), time.fromisoformat(end)
    except ValueError:
        return None
    return parsed if dash else None


class RoomBookingForm(forms.Form):
    date = IsoDateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        label=_("From"), widget=forms.TimeInput(attrs={"type": "time", "step": 1800})
    )
    end_time = forms.TimeField(label=_("To"), widget=forms.TimeInput(attrs={"type": "time", "step": 1800}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if start and end and end <= start and end != time(0):
            raise forms.ValidationError(_("The end must be after the start."))
        return cleaned


class DayPassForm(forms.Form):
    """The day pass to buy before a desk booking completes (the space's day-pass plans)."""

    plan = forms.ModelChoiceField(
        queryset=None, label=_("Day pass"), empty_label=None, widget=forms.RadioSelect
    )
    start_now = forms.BooleanField(
        label=_(
            "I ask for the pass to start on the chosen day, and I understand that once it has started I "
            "can only withdraw by paying for what I used, and not at all once it is used up."
        )
    )

    def __init__(self, *args, plans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans
        self.fields["plan"].label_from_instance = lambda plan: plan.name
        first = plans.first()
        if first is not None:
            self.fields["plan"].initial = first.pk


class ManagerCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (sent to the member)"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )


def parse_day(value: str | None, default: date) -> date | None:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
