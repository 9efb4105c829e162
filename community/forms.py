from datetime import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from community.models import CommunityProfile, EventKind, PostKind
from community.services import VISIBILITY_FIELDS
from spaces import localtime
from spaces import selectors as space_selectors

SKILLS_HELP = _("Separate skills with commas, e.g. UX design, WordPress, photography.")


def _skill_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if len(names) > 10:
        raise forms.ValidationError(_("Please list at most 10 skills."))
    if any(len(name) > 80 for name in names):
        raise forms.ValidationError(_("Each skill must be at most 80 characters long."))
    return names


class SpaceChoiceField(forms.ModelChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", space_selectors.active_spaces())
        kwargs.setdefault("to_field_name", "slug")
        super().__init__(**kwargs)

    def label_from_instance(self, obj) -> str:
        return obj.name


class CommunitySettingsForm(forms.ModelForm):
    directory_opt_in = forms.BooleanField(
        label=_("Show me in the member directory"),
        required=False,
        help_text=_(
            "Other signed-in members can then see your name and the fields you show below. Never your "
            "e-mail address. You can withdraw at any time: you disappear from the directory at once."
        ),
    )

    class Meta:
        model = CommunityProfile
        fields = [*VISIBILITY_FIELDS, "spaces", "digest_enabled"]
        widgets = {"spaces": forms.CheckboxSelectMultiple}

    def __init__(self, *args, opted_in: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["directory_opt_in"].initial = opted_in
        self.fields["spaces"].queryset = space_selectors.active_spaces()
        self.fields["spaces"].label_from_instance = lambda space: space.name


class DirectorySearchForm(forms.Form):
    skill = forms.CharField(
        label=_("Skill"),
        required=False,
        max_length=80,
        widget=forms.TextInput(attrs={"list": "skill-suggestions", "autocomplete": "off"}),
    )
    profession = forms.CharField(label=_("Profession"), required=False, max_length=80)
    space = SpaceChoiceField(label=_("Space"), required=False, empty_label=_("Every space"))
    q = forms.CharField(label=_("Name or company"), required=False, max_length=80)


class SkillAlertForm(forms.Form):
    skill = forms.CharField(
        label=_("Skill"),
        max_length=80,
        widget=forms.TextInput(attrs={"list": "skill-suggestions", "autocomplete": "off"}),
    )
    space = SpaceChoiceField(label=_("Space"), required=False, empty_label=_("Every space"))


class PostForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=PostKind.choices)
    title = forms.CharField(label=_("Title"), max_length=140)
    body = forms.CharField(label=_("Description"), max_length=4000, widget=forms.Textarea(attrs={"rows": 5}))
    skills_text = forms.CharField(
        label=_("Skills"),
        required=False,
        max_length=600,
        help_text=SKILLS_HELP,
        widget=forms.TextInput(attrs={"list": "skill-suggestions", "autocomplete": "off"}),
    )
    space = SpaceChoiceField(label=_("Space"), required=False, empty_label=_("The whole network"))
    expires_on = forms.DateField(
        label=_("Expires on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean_skills_text(self) -> list[str]:
        return _skill_names(self.cleaned_data["skills_text"])


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Your message"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The author receives it by e-mail and can reply to your address."),
    )


class ReportForm(forms.Form):
    reason = forms.CharField(label=_("What is wrong with this post?"), max_length=300)


class FulfilForm(forms.Form):
    helpers = forms.MultipleChoiceField(
        label=_("Thank who helped"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, helpers: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["helpers"].choices = [(str(pk), name) for pk, name in helpers]


class EventForm(forms.Form):
    space = SpaceChoiceField(label=_("Space"))
    kind = forms.ChoiceField(label=_("Kind"), choices=EventKind.choices)
    title = forms.CharField(label=_("Title"), max_length=140)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=6000, widget=forms.Textarea(attrs={"rows": 5})
    )
    start = forms.DateTimeField(
        label=_("Start (the space's local time)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    end = forms.DateTimeField(
        label=_("End (the space's local time)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    capacity = forms.IntegerField(label=_("Capacity"), min_value=1, max_value=10000, initial=20)
    open_to_non_members = forms.BooleanField(
        label=_("Open to non-members"),
        required=False,
        help_text=_("Shown to visitors who are not signed in; anyone with an account may register."),
    )
    no_pass_needed = forms.BooleanField(
        label=_("No pass needed (Jelly day)"), required=False, help_text=_("Come and cowork without a pass.")
    )
    accepts_proposals = forms.BooleanField(
        label=_("Collect talk proposals (barcamp)"),
        required=False,
        help_text=_("Attendees propose talks and vote for them."),
    )

    def _aware(self, value: datetime, space, field: str) -> datetime | None:
        # The fields read naive wall-clock times (USE_TZ makes them aware in the server's zone: drop it)
        # and they mean the space's zone, whatever the server's or the browser's.
        naive = value.replace(tzinfo=None)
        try:
            return localtime.local_instant(naive.date(), naive.time(), space.tz)
        except localtime.NonExistentLocalTime:
            self.add_error(field, _("This time does not exist on that day (the clocks go forward)."))
            return None

    def clean(self):
        data = super().clean()
        space = data.get("space")
        if space is None or not data.get("start") or not data.get("end"):
            return data
        data["start"] = self._aware(data["start"], space, "start")
        data["end"] = self._aware(data["end"], space, "end")
        if data["start"] and data["end"] and data["end"] <= data["start"]:
            self.add_error("end", _("The event must end after it starts."))
        return data


class ProposalForm(forms.Form):
    title = forms.CharField(label=_("Talk title"), max_length=140)
    summary = forms.CharField(
        label=_("Summary"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
