"""The community between members: the directory's per-field visibility, skill alerts, the requests and
offers board, events with RSVPs and talk proposals, and the outbox of the e-mails all of these send."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class CommunityProfile(models.Model):
    """What a member shows in the directory beyond their name, and what the community may send them.
    A member without a row shows every field (the defaults) once they have opted in to the directory;
    opting in itself stays on members.Member, with its consent record."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_profile"
    )
    show_photo = models.BooleanField(_("show my photo"), default=True)
    show_profession = models.BooleanField(_("show my profession"), default=True)
    show_skills = models.BooleanField(_("show my skills"), default=True)
    show_bio = models.BooleanField(_("show my bio"), default=True)
    show_company = models.BooleanField(_("show my company"), default=True)
    show_website = models.BooleanField(_("show my website"), default=True)
    show_spaces = models.BooleanField(_("show the spaces I use"), default=True)
    spaces = models.ManyToManyField(
        "spaces.Space", blank=True, related_name="+", verbose_name=_("spaces I use")
    )
    digest_enabled = models.BooleanField(_("weekly digest of matching requests and offers"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("community profile")
        verbose_name_plural = _("community profiles")

    def __str__(self) -> str:
        return str(self.user)


class SkillAlert(models.Model):
    """ "Tell me when a lawyer is in": an e-mail when a member with `skill` books a day at `space` (or at
    any space when it is empty)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skill_alerts")
    skill = models.ForeignKey(
        "members.Skill", on_delete=models.CASCADE, related_name="+", verbose_name=_("skill")
    )
    space = models.ForeignKey(
        "spaces.Space",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("space"),
        help_text=_("Leave empty for every space."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("skill alert")
        verbose_name_plural = _("skill alerts")
        constraints = [
            models.UniqueConstraint(fields=["user", "skill", "space"], name="skill_alert_unique"),
            models.UniqueConstraint(
                fields=["user", "skill"], condition=Q(space__isnull=True), name="skill_alert_unique_any_space"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.skill}"


class PostKind(models.TextChoices):
    REQUEST = "request", _("Request")
    OFFER = "offer", _("Offer")


class PostStatus(models.TextChoices):
    OPEN = "open", _("Open")
    FULFILLED = "fulfilled", _("Fulfilled")


class PostQuerySet(models.QuerySet):
    def visible(self, *, today):
        """What the board shows: open, not hidden by a manager, not expired, by an account that still
        exists (an erased member's posts go with them)."""
        return self.filter(
            status=PostStatus.OPEN, hidden=False, expires_on__gte=today, author__is_active=True
        )


class Post(models.Model):
    """A request ("looking for a photographer") or an offer ("I can review your contracts") on the board
    of one space, or of the whole network when `space` is empty."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="community_posts",
        verbose_name=_("author"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=PostKind.choices, default=PostKind.REQUEST)
    title = models.CharField(_("title"), max_length=140)
    body = models.TextField(_("description"), max_length=4000)
    skills = models.ManyToManyField("members.Skill", blank=True, related_name="+", verbose_name=_("skills"))
    space = models.ForeignKey(
        "spaces.Space",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("space"),
        help_text=_("Leave empty to post to the whole network."),
    )
    expires_on = models.DateField(_("expires on"))
    status = models.CharField(_("status"), max_length=10, choices=PostStatus.choices, default=PostStatus.OPEN)
    hidden = models.BooleanField(_("hidden by a manager"), default=False)
    created_at = models.DateTimeField(_("posted at"), auto_now_add=True, db_index=True)
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("request or offer")
        verbose_name_plural = _("requests and offers")
        indexes = [models.Index(fields=["status", "hidden", "expires_on"], name="post_board")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("community:post", args=[self.pk])


class PostMessage(models.Model):
    """An answer to a post, sent to its author through the site: the author's e-mail address stays
    private; the e-mail they receive has the sender's address as Reply-To, so replying reveals theirs
    only when they choose to."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(_("message"), max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.sender} → {self.post}"


class Thanks(models.Model):
    """The author of a post thanks a member who helped: the public count on profiles."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="thanks")
    helper = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="thanks_received"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("thanks")
        verbose_name_plural = _("thanks")
        constraints = [models.UniqueConstraint(fields=["post", "helper"], name="thanks_once_per_post")]

    def __str__(self) -> str:
        return f"{self.helper} · {self.post}"


class PostReport(models.Model):
    """A member tells the managers a post breaks the rules; they hide or delete it in the admin."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=300)
    created_at = models.DateTimeField(_("reported at"), auto_now_add=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [models.UniqueConstraint(fields=["post", "reporter"], name="report_once_per_member")]

    def __str__(self) -> str:
        return self.reason


class EventKind(models.TextChoices):
    TALK = "talk", _("Talk")
    BARCAMP = "barcamp", _("Barcamp")
    JELLY = "jelly", _("Jelly day")
    LUNCH = "lunch", _("Lunch")
    OTHER = "other", _("Other")


class EventStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class Event(models.Model):
    """Something that happens at a space. Members' events wait for a manager of the space to approve
    them; the managers' own are approved at once. Start and end are instants, entered and shown in the
    space's time zone."""

    space = models.ForeignKey(
        "spaces.Space", on_delete=models.CASCADE, related_name="+", verbose_name=_("space")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=EventKind.choices, default=EventKind.TALK)
    title = models.CharField(_("title"), max_length=140)
    description = models.TextField(_("description"), max_length=6000, blank=True)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    capacity = models.PositiveIntegerField(_("capacity"), default=20)
    open_to_non_members = models.BooleanField(
        _("open to non-members"),
        default=False,
        help_text=_("Shown to visitors who are not signed in; anyone with an account may register."),
    )
    no_pass_needed = models.BooleanField(
        _("no pass needed"), default=False, help_text=_("A Jelly day: come and cowork without a pass.")
    )
    accepts_proposals = models.BooleanField(
        _("collects talk proposals"),
        default=False,
        help_text=_("A barcamp: attendees propose talks and vote."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=EventStatus.choices, default=EventStatus.PENDING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "pk"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="event_ends_after_start"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="event_capacity_positive"),
        ]
        indexes = [models.Index(fields=["status", "start"], name="event_upcoming")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("community:event", args=[self.pk])


class RsvpStatus(models.TextChoices):
    GOING = "going", _("Going")
    WAITING = "waiting", _("On the waiting list")
    CANCELLED = "cancelled", _("Cancelled")


class Rsvp(models.Model):
    """A member's answer to an event. At most `capacity` are GOING: the service counts them while it
    holds the event's row lock, like a booking holds its resource's."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rsvps")
    status = models.CharField(_("status"), max_length=10, choices=RsvpStatus.choices)
    # The waiting list's order: when the member last asked for a seat.
    requested_at = models.DateTimeField(_("registered at"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["requested_at", "pk"]
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="rsvp_once_per_event")]
        indexes = [models.Index(fields=["event", "status", "requested_at"], name="rsvp_event_status")]

    def __str__(self) -> str:
        return f"{self.user} · {self.event}"


class TalkProposal(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="proposals")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=140)
    summary = models.TextField(_("summary"), max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("talk proposal")
        verbose_name_plural = _("talk proposals")

    def __str__(self) -> str:
        return self.title


class ProposalVote(models.Model):
    proposal = models.ForeignKey(TalkProposal, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["proposal", "user"], name="vote_once_per_proposal")]

    def __str__(self) -> str:
        return f"{self.user} · {self.proposal}"


class EmailKind(models.TextChoices):
    SKILL_ALERT = "skill_alert", _("Skill alert")
    DIGEST = "digest", _("Weekly digest")
    POST_MESSAGE = "post_message", _("Message about a post")
    RSVP_PROMOTED = "rsvp_promoted", _("Seat freed at an event")
    EVENT_DECIDED = "event_decided", _("Event approved or rejected")


class CommunityEmail(models.Model):
    """The outbox and log of the community's e-mails. Written in the same transaction as its cause,
    under a unique `key` (recording it twice is a no-op); sent after commit by a task, and by the
    periodic sweep for whatever the task could not send; claimed by a conditional update before sending,
    so it goes out once."""

    kind = models.CharField(_("kind"), max_length=20, choices=EmailKind.choices)
    key = models.CharField(max_length=160, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(_("sent to"))
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))
    reply_to = models.EmailField(blank=True)
    unsubscribe_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("community e-mail")
        verbose_name_plural = _("community e-mails")
        indexes = [
            models.Index(fields=["sent_at"], name="community_email_unsent", condition=Q(sent_at__isnull=True))
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.email}"
