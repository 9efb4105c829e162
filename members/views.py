from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from members import selectors, services, tokens
from members.forms import DeleteAccountForm, ProfileForm
from members.models import ApiToken


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    member = selectors.member_for_user(user=request.user)
    form = ProfileForm(request.POST or None, request.FILES or None, instance=member)
    if request.method == "POST" and form.is_valid():
        data = {name: value for name, value in form.cleaned_data.items() if name != "skills_text"}
        if not request.FILES.get("photo") and "photo" in data and data["photo"] is None:
            data.pop("photo")
        services.member_update_profile(
            member=member, data=data, skills=form.cleaned_data["skills_text"], now=timezone.now()
        )
        messages.success(request, _("Your profile has been saved."))
        return redirect("members:profile")
    return render(
        request,
        "members/profile.html",
        {"form": form, "member": member, "skill_suggestions": selectors.skill_suggestions()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.member_erase(user=request.user, now=timezone.now())
        logout(request)
        messages.success(
            request, _("Your account has been deleted. Your invoices are kept as the law requires.")
        )
        return redirect("home")
    return render(request, "members/delete_account.html", {"form": form})


# API tokens: personal tokens for the JSON API (/api/v1/). The token itself is shown once, on creation.


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=80,
        help_text=gettext_lazy("To recognise it later, e.g. the script or the application that uses it."),
    )


def _api_tokens_page(request, form, created=None, raw_token=None):
    response = render(
        request,
        "members/api_tokens.html",
        {
            "form": form,
            "tokens": ApiToken.objects.filter(user=request.user),
            "created": created,
            "raw_token": raw_token,
        },
    )
    response["Cache-Control"] = "no-store"  # the page may show a token: never keep it in a cache
    return response


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token, raw = tokens.token_create(user=request.user, name=form.cleaned_data["name"])
        # Rendered, not redirected: the raw token exists only in this response.
        return _api_tokens_page(request, ApiTokenForm(), created=token, raw_token=raw)
    return _api_tokens_page(request, form)


@login_required
@require_POST
def api_token_revoke(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    if token.is_active:
        tokens.token_revoke(token=token, user=request.user)
        messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    return redirect("members:api_tokens")
