"""The community pages. Everything about members needs a signed-in account (login_required): an anonymous
visitor sees only the events their organisers opened to non-members, and no attendee's name there."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from community import forms, ical, notifications, selectors, services
from community.models import Post, PostKind, RsvpStatus, TalkProposal
from members import selectors as member_selectors
from members import services as member_services
from spaces import selectors as space_selectors


def _space_or_404(slug: str):
    space = space_selectors.active_space_by_slug(slug)
    if space is None:
        raise Http404
    return space


def _page_number(request) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


# --- directory ---------------------------------------------------------------------------------------


@login_required
@require_GET
def directory(request):
    form = forms.DirectorySearchForm(request.GET or None)
    criteria = form.cleaned_data if form.is_valid() else {}
    space = criteria.get("space")
    result = selectors.directory_search(
        skill=criteria.get("skill", ""),
        profession=criteria.get("profession", ""),
        space_id=space.pk if space else None,
        text=criteria.get("q", ""),
        page=_page_number(request),
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "result": result,
        "query": query.urlencode(),
        "skill_suggestions": selectors.skill_suggestions(),
        "me": member_selectors.member_for_user(user=request.user),
    }
    template = "community/_directory_results.html" if request.htmx else "community/directory.html"
    return render(request, template, context)


@login_required
@require_GET
def member_profile(request, member_id: int):
    card = selectors.directory_card(member_id=member_id)
    if card is None:
        raise Http404
    return render(request, "community/member.html", {"card": card})


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request):
    member = member_selectors.member_for_user(user=request.user)
    profile = services.profile_for(user=request.user)
    form = forms.CommunitySettingsForm(
        request.POST or None, instance=profile, opted_in=member.directory_opt_in
    )
    alert_form = forms.SkillAlertForm()
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.community_profile_update(user=request.user, data=data, spaces=data["spaces"])
        if data["directory_opt_in"] != member.directory_opt_in:
            member_services.member_update_profile(
                member=member, data={"directory_opt_in": data["directory_opt_in"]}, now=timezone.now()
            )
        messages.success(request, _("Your community settings have been saved."))
        return redirect("community:settings")
    return render(
        request,
        "community/settings.html",
        {
            "form": form,
            "alert_form": alert_form,
            "alerts": selectors.skill_alerts_of(user=request.user),
            "skill_suggestions": selectors.skill_suggestions(),
            "member": member,
        },
    )


@login_required
@require_POST
def alert_add(request):
    form = forms.SkillAlertForm(request.POST)
    if form.is_valid():
        try:
            alert = services.skill_alert_create(
                user=request.user, skill_name=form.cleaned_data["skill"], space=form.cleaned_data["space"]
            )
        except services.CommunityError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("We will tell you when someone with “%(skill)s” books.") % {"skill": alert.skill.name},
            )
    else:
        messages.error(request, _("Name a skill."))
    return redirect("community:settings")


@login_required
@require_POST
def alert_delete(request, alert_id: int):
    if services.skill_alert_delete(user=request.user, alert_id=alert_id):
        messages.success(request, _("The alert is deleted."))
    return redirect("community:settings")


@csrf_exempt  # a mail client's one-click POST (RFC 8058) carries no CSRF token; the signed token is the key
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """No login: the link in the e-mail carries a signed token naming the member and what to stop. A GET
    only asks for confirmation (mail scanners and link previews follow links: they must not unsubscribe
    anyone); the POST, from that page's button or from the mail client's one-click unsubscribe
    (List-Unsubscribe-Post), stops it, idempotently."""
    read = notifications.unsubscribe_read(token)
    what = read[1].split(":")[0] if read is not None else ""
    if read is None:
        return render(request, "community/unsubscribed.html", {"ok": False}, status=400)
    if request.method == "GET":
        return render(request, "community/unsubscribed.html", {"confirm": True, "what": what})
    if not services.unsubscribe(user_id=read[0], what=read[1]):
        return render(request, "community/unsubscribed.html", {"ok": False}, status=400)
    return render(request, "community/unsubscribed.html", {"ok": True, "what": what})


# --- who is in ---------------------------------------------------------------------------------------


@login_required
@require_GET
def who_is_in(request, slug: str):
    space = _space_or_404(slug)
    days = selectors.who_is_in(space=space, now=timezone.now())
    template = "community/_who_is_in.html" if request.htmx else "community/who_is_in.html"
    return render(request, template, {"space": space, "days": days})


# --- board -------------------------------------------------------------------------------------------


@login_required
@require_GET
def board(request, slug: str | None = None):
    space = _space_or_404(slug) if slug else None
    kind = request.GET.get("kind", "")
    posts = selectors.board(
        today=timezone.localdate(),
        space=space,
        kind=kind if kind in PostKind.values else "",
        skill=request.GET.get("skill", "")[:80],
    )[:200]
    return render(
        request,
        "community/board.html",
        {
            "space": space,
            "posts": posts,
            "kind": kind,
            "skill": request.GET.get("skill", "")[:80],
            "spaces": space_selectors.active_spaces(),
            "mine": selectors.posts_of(user=request.user)[:20],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def post_new(request):
    initial = {"expires_on": timezone.localdate() + timedelta(days=30)}
    if slug := request.GET.get("space"):
        initial["space"] = slug
    form = forms.PostForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            post = services.post_create(
                author=request.user,
                kind=data["kind"],
                title=data["title"],
                body=data["body"],
                skill_names=data["skills_text"],
                space=data["space"],
                expires_on=data["expires_on"],
                today=timezone.localdate(),
            )
        except services.CommunityError as exc:
            form.add_error("expires_on", exc.message)
        else:
            messages.success(request, _("Your post is on the board."))
            return redirect(post)
    return render(
        request,
        "community/post_form.html",
        {"form": form, "skill_suggestions": selectors.skill_suggestions()},
    )


def _post_or_404(request, post_id: int) -> Post:
    post = selectors.post_for(post_id=post_id, user=request.user, today=timezone.localdate())
    if post is None:
        raise Http404
    return post


def _post_page(request, post, *, message_form=None, report_form=None, status=200):
    is_author = post.author_id == request.user.pk
    thread = (
        list(post.messages.select_related("sender__member"))
        if is_author
        else post.messages.filter(sender=request.user)
    )
    helpers = {m.sender_id: m.sender.member.name for m in thread} if is_author else {}
    return render(
        request,
        "community/post.html",
        {
            "post": post,
            "is_author": is_author,
            "thread": thread,
            "message_form": message_form or forms.MessageForm(),
            "report_form": report_form or forms.ReportForm(),
            "fulfil_form": forms.FulfilForm(helpers=list(helpers.items())) if is_author else None,
            "author_name": post.author.member.name,
            "thanks": post.thanks.count(),
        },
        status=status,
    )


@login_required
@require_GET
def post_detail(request, post_id: int):
    return _post_page(request, _post_or_404(request, post_id))


@login_required
@require_POST
def post_message(request, post_id: int):
    post = _post_or_404(request, post_id)
    form = forms.MessageForm(request.POST)
    if form.is_valid():
        try:
            services.post_message(post=post, sender=request.user, body=form.cleaned_data["body"])
        except services.CommunityError as exc:
            form.add_error("body", exc.message)
        else:
            messages.success(request, _("Your message has been sent to the author."))
            return redirect(post)
    return _post_page(request, post, message_form=form, status=400)


@login_required
@require_POST
def post_fulfil(request, post_id: int):
    post = _post_or_404(request, post_id)
    if post.author_id != request.user.pk:
        raise Http404
    # Only members who answered can be thanked (the service keeps to them); anything else posted is ignored.
    helper_ids = [int(value) for value in request.POST.getlist("helpers") if value.isdigit()]
    services.post_fulfil(post=post, by=request.user, helper_ids=helper_ids, now=timezone.now())
    messages.success(request, _("Your post is marked fulfilled. Thank you for sharing!"))
    return redirect(post)


@login_required
@require_POST
def post_report(request, post_id: int):
    post = _post_or_404(request, post_id)
    form = forms.ReportForm(request.POST)
    if form.is_valid():
        try:
            services.post_report(post=post, reporter=request.user, reason=form.cleaned_data["reason"])
        except services.CommunityError as exc:
            form.add_error("reason", exc.message)
        else:
            messages.success(request, _("Thank you: the managers will look at this post."))
            return redirect(post)
    return _post_page(request, post, report_form=form, status=400)


# --- events ------------------------------------------------------------------------------------------


@require_GET
def events(request):
    space = None
    if slug := request.GET.get("space"):
        space = _space_or_404(slug)
    upcoming = selectors.upcoming_events(user=request.user, now=timezone.now(), space=space)[:100]
    pending = selectors.pending_events_for(user=request.user) if request.user.is_staff else []
    return render(
        request,
        "community/events.html",
        {"events": upcoming, "space": space, "spaces": space_selectors.active_spaces(), "pending": pending},
    )


@login_required
@require_http_methods(["GET", "POST"])
def event_new(request):
    initial = {}
    if slug := request.GET.get("space"):
        initial["space"] = slug
    form = forms.EventForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        space = data.pop("space")
        try:
            event = services.event_create(by=request.user, space=space, data=data, now=timezone.now())
        except services.CommunityError as exc:
            form.add_error("start", exc.message)
        except ValidationError as exc:  # the model's own checks
            for message in exc.messages:
                form.add_error(None, message)
        else:
            if event.status == "approved":
                messages.success(request, _("Your event is published."))
            else:
                messages.success(request, _("Thank you! A manager of the space will approve your event."))
            return redirect(event)
    return render(request, "community/event_form.html", {"form": form})


def _event_or_404(request, event_id: int):
    event = selectors.event_for(event_id=event_id, user=request.user)
    if event is None:
        raise Http404
    return event


@require_GET
def event_detail(request, event_id: int):
    event = _event_or_404(request, event_id)
    rsvp = selectors.rsvp_of(event=event, user=request.user)
    signed_in = request.user.is_authenticated
    return render(
        request,
        "community/event.html",
        {
            "event": event,
            "rsvp": rsvp,
            "position": selectors.waiting_position(rsvp=rsvp)
            if rsvp and rsvp.status == RsvpStatus.WAITING
            else None,
            "attendees": selectors.attendees(event=event) if signed_in else [],
            "proposals": selectors.proposals(event=event, user=request.user)
            if signed_in and event.accepts_proposals
            else [],
            "proposal_form": forms.ProposalForm(),
            "can_decide": signed_in
            and event.status == "pending"
            and services.manages(request.user, event.space_id),
            "is_full": event.going >= event.capacity,
            "tz": event.space.time_zone,
        },
    )


@login_required
@require_POST
def event_rsvp(request, event_id: int):
    event = _event_or_404(request, event_id)
    try:
        rsvp = services.rsvp(event=event, user=request.user, now=timezone.now())
    except services.CommunityError as exc:
        messages.error(request, exc.message)
    else:
        if rsvp.status == RsvpStatus.GOING:
            messages.success(request, _("You are registered. See you there!"))
        else:
            messages.info(
                request,
                _("The event is full: you are on the waiting list. We will e-mail you if a seat frees up."),
            )
    return redirect(event)


@login_required
@require_POST
def event_cancel_rsvp(request, event_id: int):
    event = _event_or_404(request, event_id)
    if services.rsvp_cancel(event=event, user=request.user, now=timezone.now()):
        messages.success(request, _("Your registration is cancelled."))
    return redirect(event)


@login_required
@require_POST
def event_decide(request, event_id: int):
    event = _event_or_404(request, event_id)
    try:
        services.event_decide(
            event=event,
            by=request.user,
            approve=request.POST.get("decision") == "approve",
            now=timezone.now(),
        )
    except services.CommunityError as exc:
        messages.error(request, exc.message)
        return redirect(event)
    return redirect(event)


@require_GET
def event_ics(request, event_id: int):
    event = _event_or_404(request, event_id)
    response = HttpResponse(
        ical.calendar_for([event], name=event.title), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}.ics"'
    return response


@login_required
@require_POST
def proposal_add(request, event_id: int):
    event = _event_or_404(request, event_id)
    form = forms.ProposalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give your talk a title."))
        return redirect(event)
    try:
        services.proposal_create(
            event=event,
            author=request.user,
            title=form.cleaned_data["title"],
            summary=form.cleaned_data["summary"],
        )
    except services.CommunityError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your talk is proposed."))
    return redirect(event)


@login_required
@require_POST
def proposal_vote(request, proposal_id: int):
    proposal = get_object_or_404(TalkProposal, pk=proposal_id)
    event = _event_or_404(request, proposal.event_id)
    proposal.event = event
    try:
        services.proposal_vote(proposal=proposal, user=request.user)
    except services.CommunityError as exc:
        messages.error(request, exc.message)
    return redirect(event)
