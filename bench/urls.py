"""The application's URLs plus the framework floor, which exists only under bench.settings."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from coworking.urls import urlpatterns as app_urlpatterns


def floor_view(request: HttpRequest) -> HttpResponse:
    # No database, template or session access: what remains is Django plus the middleware stack,
    # the cost every page pays before doing any work of its own.
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/floor", floor_view),
    *app_urlpatterns,
]
