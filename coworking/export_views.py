"""The managers' CSV export pages in the admin: a form (what, which of my spaces, which days, which
format); a small export downloads at once, a large one runs in the background and its page shows the
progress, then the download link. A manager only ever exports the spaces they run
(members.selectors.managed_space_ids), and only the manager who started a job sees it or its file.

Mounted under /admin/exports/ by coworking/urls.py; every view goes through admin.site.admin_view.
"""

import logging
from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods
from kombu.exceptions import OperationalError

from coworking import exports, tasks
from members.selectors import managed_space_ids
from members.services import audit_record
from spaces.models import Space

logger = logging.getLogger(__name__)

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def _last_month(today: date) -> tuple[date, date]:
    last_day = today.replace(day=1) - timedelta(days=1)
    return last_day.replace(day=1), last_day


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What to export"), choices=exports.ExportKind.choices)
    space = forms.TypedChoiceField(label=_("Space"), coerce=int, empty_value=None, required=False)
    date_from = forms.DateField(
        label=_("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_(
            "Bookings by their day, invoices by their issue date, payments by the day they were "
            "received (or made, for a card payment not received yet)."
        ),
    )
    date_to = forms.DateField(
        label=_("To (included)"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    file_format = forms.ChoiceField(
        label=_("Format"), choices=exports.ExportFormat.choices, widget=forms.RadioSelect
    )

    def __init__(self, *args, spaces: list[Space], **kwargs):
        super().__init__(*args, **kwargs)
        # Only the manager's own spaces are choices: another space's id is "not one of the available
        # choices", never a 500 and never its rows.
        self.fields["space"].choices = [("", _("All my spaces")), *((s.pk, s.name) for s in spaces)]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", _("The end of the range must not be before its start."))
            elif (end - start).days + 1 > exports.MAX_DAYS:
                self.add_error(
                    "date_to",
                    _("An export covers at most %(days)d days: choose a shorter range.")
                    % {"days": exports.MAX_DAYS},
                )
        return cleaned


def _space_scope(request) -> set[int] | None:
    """The spaces the user may export (None: every space); a staff user who runs none may not."""
    space_ids = managed_space_ids(user=request.user)
    if space_ids is not None and not space_ids:
        raise PermissionDenied
    return space_ids


def _context(request, **extra) -> dict:
    return {**admin.site.each_context(request), **extra}


def _stream_max_rows() -> int:
    return getattr(settings, "EXPORT_STREAM_MAX_ROWS", exports.STREAM_MAX_ROWS)


def _audit(request, spec: exports.ExportSpec, rows: int, job_id: str = "") -> None:
    spaces = "all" if spec.space_ids is None else ",".join(str(pk) for pk in sorted(spec.space_ids))
    audit_record(
        actor=request.user,
        action=f"export.{spec.kind}",
        space_id=spec.space_ids[0] if spec.space_ids is not None and len(spec.space_ids) == 1 else None,
        target_type="export",
        target_id=job_id,
        note=(
            f"{spec.start.isoformat()}..{spec.end.isoformat()}; rows={rows}; "
            f"format={spec.file_format}; spaces={spaces}"
        ),
    )


@require_http_methods(["GET", "POST"])
def export_form_view(request):
    space_ids = _space_scope(request)
    spaces = Space.objects.order_by("name").only("pk", "name")
    if space_ids is not None:
        spaces = spaces.filter(pk__in=space_ids)
    start, end = _last_month(timezone.localdate())
    language = translation.get_language() or settings.LANGUAGE_CODE
    initial = {
        "kind": exports.ExportKind.INVOICES,
        "date_from": start,
        "date_to": end,
        "file_format": exports.ExportFormat.EXCEL_FR
        if language.startswith("fr")
        else exports.ExportFormat.CSV,
    }
    form = ExportForm(request.POST or None, spaces=list(spaces), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["space"] is not None:
            scope = (data["space"],)
        else:
            scope = tuple(sorted(space_ids)) if space_ids is not None else None
        spec = exports.ExportSpec(
            kind=exports.ExportKind(data["kind"]),
            space_ids=scope,
            start=data["date_from"],
            end=data["date_to"],
            file_format=exports.ExportFormat(data["file_format"]),
        )
        total = exports.export_count(spec=spec)
        if total <= _stream_max_rows():
            _audit(request, spec, total)
            response = StreamingHttpResponse(
                exports.export_stream(spec=spec, language=language), content_type=CSV_CONTENT_TYPE
            )
            response["Content-Disposition"] = content_disposition_header(True, spec.filename)
            return response
        job_id = exports.job_create(owner_id=request.user.pk, spec=spec, total=total, language=language)
        _audit(request, spec, total, job_id=job_id)
        try:
            tasks.export_csv.delay(job_id)
        except OperationalError:
            # The broker is down: say so now rather than show a progress bar that never moves.
            logger.exception("export not queued", extra={"job_id": job_id})
            exports.job_update(job_id=job_id, status=exports.JobStatus.FAILED.value)
            form.add_error(
                None,
                _(
                    "This export is too large to download at once and the background worker cannot be "
                    "reached: try again in a few minutes, or choose a shorter range."
                ),
            )
        else:
            return redirect("exports:status", job_id=job_id)
    return TemplateResponse(
        request,
        "admin/exports/form.html",
        _context(request, title=_("Export as CSV"), form=form, max_rows=_stream_max_rows()),
    )


def _own_job(request, job_id) -> dict:
    """The job if the requester started it; anyone else gets a 404, as if it did not exist."""
    job = exports.job_get(job_id=str(job_id))
    if job is None or job["owner_id"] != request.user.pk:
        raise Http404
    return job


def _job_state(job_id: str, job: dict) -> dict:
    done = job["status"] == exports.JobStatus.DONE
    return {
        "status": job["status"],
        "status_label": str(exports.JobStatus(job["status"]).label),
        "done": job["done"],
        "total": job["total"],
        "download_url": reverse("exports:download", kwargs={"job_id": job_id}) if done else None,
    }


@require_GET
def export_status_view(request, job_id):
    """The job's page, or its progress as JSON for the page's poller (Accept: application/json)."""
    job = _own_job(request, job_id)
    state = _job_state(str(job_id), job)
    if request.get_preferred_type(["text/html", "application/json"]) == "application/json":
        response = JsonResponse(state)
    else:
        kind = exports.ExportKind(job["spec"]["kind"])
        response = TemplateResponse(
            request,
            "admin/exports/status.html",
            _context(
                request,
                title=_("Export: %(kind)s") % {"kind": kind.label},
                job=job,
                state=state,
                kind=kind,
                start=date.fromisoformat(job["spec"]["start"]),
                end=date.fromisoformat(job["spec"]["end"]),
                file_format=exports.ExportFormat(job["spec"]["file_format"]),
                status_url=reverse("exports:status", kwargs={"job_id": str(job_id)}),
            ),
        )
    patch_vary_headers(response, ["Accept"])
    return response


@require_GET
def export_download_view(request, job_id):
    job = _own_job(request, job_id)
    if job["status"] != exports.JobStatus.DONE or not job["file"]:
        return redirect("exports:status", job_id=str(job_id))
    try:
        handle = default_storage.open(job["file"], "rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=job["filename"], content_type=CSV_CONTENT_TYPE)


app_name = "exports"
urlpatterns = [
    path("", admin.site.admin_view(export_form_view), name="form"),
    path("<uuid:job_id>/", admin.site.admin_view(export_status_view), name="status"),
    path("<uuid:job_id>/download/", admin.site.admin_view(export_download_view), name="download"),
]
