from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from members import selectors, services
from members.forms import DeleteAccountForm, ProfileForm


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
