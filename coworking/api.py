"""The JSON API, version 1, at /api/v1/ (django-ninja). Its OpenAPI schema is /api/v1/openapi.json.

Authentication: the browser session (unsafe methods need the CSRF token, as every form of the site does)
or a personal token, `Authorization: Bearer cw_…`, from the account page or `manage.py create_api_token`.

Every error is JSON, `{"error": {"code": "<stable code>", "message": "<translated message>"}}`, with
`fields` for validation details: the codes are those of bookings/errors.py plus the few below.
"""

import functools

from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import re_path
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, SessionAuth

from bookings.api import router as bookings_router
from bookings.errors import MESSAGES as BOOKING_MESSAGES
from bookings.errors import BookingError
from bookings.spaces_api import router as spaces_router
from members.tokens import token_authenticate

# Codes of the API itself, besides the booking errors (which include invalid and not_found).
API_MESSAGES = {
    "unauthenticated": (
        401,
        _("Authentication required: sign in, or send an API token in the Authorization header."),
    ),
    "csrf_failed": (403, _("CSRF check failed: send the X-CSRFToken header along with the session cookie.")),
    "forbidden": (403, _("You may not do this.")),
    "method_not_allowed": (405, _("This method is not allowed on this URL.")),
}
MALFORMED_BODY = _("The request body is not valid JSON.")  # code invalid, status 400
# What an HttpError raised by django-ninja itself means, by status.
HTTP_ERROR_CODES = {400: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found"}


def error_body(code: str, message, fields: list | None = None) -> dict:
    error = {"code": code, "message": str(message)}
    if fields:
        error["fields"] = fields
    return {"error": error}


def api_error(code: str) -> JsonResponse:
    """An error response outside any operation (unknown URL, wrong method)."""
    status, message = API_MESSAGES[code] if code in API_MESSAGES else BOOKING_MESSAGES[code]
    return JsonResponse(error_body(code, message), status=status)


class CsrfFailed(Exception):
    pass


class BearerToken(HttpBearer):
    """`Authorization: Bearer cw_…`. A wrong, revoked or inactive user's token is refused outright, even
    with a valid session cookie: a client that sends a credential means that one."""

    def authenticate(self, request: HttpRequest, token: str):
        user = token_authenticate(token)
        if user is None:
            raise AuthenticationError()
        return user


class Session(SessionAuth):
    """The session of the signed-in browser. django-ninja's check of the CSRF token (unsafe methods)
    applies only when there is a session to protect: an anonymous request is just unauthenticated."""

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        try:
            return super().__call__(request)
        except HttpError as error:
            if error.status_code == 403:
                raise CsrfFailed() from None
            raise


def anonymous(request: HttpRequest):
    """The last resort of public operations: no credential at all is fine there."""
    return AnonymousUser()


bearer_auth, session_auth = BearerToken(), Session()
MEMBER_AUTH = [bearer_auth, session_auth]
PUBLIC_AUTH = [bearer_auth, session_auth, anonymous]


def _json_fallbacks(view):
    """JSON instead of django-ninja's plain-text 405 and Django's HTML 404 (the API root)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return api_error("not_found")
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = api_error("method_not_allowed")
            response["Allow"] = allowed
        return response

    return wrapped


def _unknown_url(request: HttpRequest, **kwargs) -> JsonResponse:
    return api_error("not_found")


class CoworkingAPI(NinjaAPI):
    """django-ninja's API, whose URLs answer in JSON even outside the operations."""

    @property
    def urls(self):
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            pattern.callback = _json_fallbacks(pattern.callback)
        # Last: any other URL under /api/v1/ is a JSON 404 too.
        patterns.append(re_path(r"", _unknown_url, name="unknown"))
        return patterns, app_name, namespace


api = CoworkingAPI(
    title="Coworking API",
    version="1",
    description=__doc__,
    docs_url=None,  # the docs page loads Swagger UI from a CDN, which the CSP forbids: the schema is enough
    auth=MEMBER_AUTH,
    urls_namespace="api-v1",
)
api.add_router("/spaces", spaces_router, auth=PUBLIC_AUTH)
api.add_router("/bookings", bookings_router)


@api.exception_handler(BookingError)
def _booking_error(request: HttpRequest, error: BookingError) -> HttpResponse:
    return api.create_response(request, error_body(error.code, error.message), status=error.status)


def _location(loc) -> list:
    """["body", "payload", "date"] is ["body", "date"] to the client: the name of the handler's body
    argument is no business of theirs."""
    loc = list(loc)
    if len(loc) >= 2 and loc[0] == "body":
        del loc[1]
    return loc


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, error: ValidationError) -> HttpResponse:
    fields = [
        {
            "loc": _location(item.get("loc", ())),
            "message": str(item.get("msg", "")),
            "type": str(item.get("type", "")),
        }
        for item in error.errors
    ]
    body = error_body("invalid", BOOKING_MESSAGES["invalid"][1], fields)
    return api.create_response(request, body, status=422)


@api.exception_handler(CsrfFailed)
def _csrf_failed(request: HttpRequest, error: CsrfFailed) -> HttpResponse:
    status, message = API_MESSAGES["csrf_failed"]
    return api.create_response(request, error_body("csrf_failed", message), status=status)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    code = HTTP_ERROR_CODES.get(error.status_code, "invalid")
    if error.status_code == 400:  # the only 400 django-ninja raises: a body that is not JSON
        message = MALFORMED_BODY
    else:
        message = (API_MESSAGES.get(code) or BOOKING_MESSAGES[code])[1]
    return api.create_response(request, error_body(code, message), status=error.status_code)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return api.create_response(request, error_body("not_found", BOOKING_MESSAGES["not_found"][1]), status=404)
