from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import Member


class ProfileForm(forms.ModelForm):
    skills_text = forms.CharField(
        label=_("Skills"),
        required=False,
        max_length=600,
        help_text=_("Separate skills with commas, e.g. UX design, WordPress, photography."),
        widget=forms.TextInput(attrs={"list": "skill-suggestions", "autocomplete": "off"}),
    )

    class Meta:
        model = Member
        fields = [
            "display_name",
            "profession",
            "skills_text",
            "bio",
            "company",
            "website",
            "phone",
            "photo",
            "preferred_language",
            "billing_name",
            "billing_address",
            "billing_country",
            "vat_number",
            "company_registration",
            "directory_opt_in",
        ]
        widgets = {
            "bio": forms.Textarea(attrs={"rows": 4}),
            "billing_address": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "directory_opt_in": _(
                "Other signed-in members can then see your name, profession, skills, bio, company and "
                "website. Never your e-mail address. You can withdraw at any time."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["display_name"].required = True
        if self.instance.pk:
            self.fields["skills_text"].initial = ", ".join(s.name for s in self.instance.skills.all())

    def clean_skills_text(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["skills_text"].split(",") if name.strip()]
        if len(names) > 20:
            raise forms.ValidationError(_("Please list at most 20 skills."))
        if any(len(name) > 80 for name in names):
            raise forms.ValidationError(_("Each skill must be at most 80 characters long."))
        return names

    def clean_vat_number(self) -> str:
        return "".join(self.cleaned_data["vat_number"].split()).upper()


class DeleteAccountForm(forms.Form):
    password = forms.CharField(label=_("Your password"), widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("This is not your password."))
        return password
