from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from coworking import health


@never_cache
@require_GET
def healthz(request):
    database = health.check_database()
    broker = health.check_broker()
    ok = database["ok"] and broker["ok"]
    body = {
        "status": "ok" if ok else "unavailable",
        "database": database,
        "broker": broker,
        "scheduler": health.scheduler_status(),
    }
    return JsonResponse(body, status=200 if ok else 503)


def favicon(request):
    # Browsers ask for /favicon.ico whatever the page says; point them at the real icon.
    return HttpResponsePermanentRedirect(static("favicon.svg"))
