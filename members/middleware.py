"""Django's authentication middleware, keeping the sessions signed in before members.auth named the backends.

A session records the dotted path of the backend that signed it in, and Django treats a session whose
path is no longer in AUTHENTICATION_BACKENDS as signed out. The settings name members.auth's classes since
they read the user with prepared SQL; this moves a session that names Django's or allauth's class onto
ours the first time its user is read, so nobody is signed out by that change. Sessions last at most
SESSION_COOKIE_AGE: after that, no session names the old classes and this can go.
"""

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth import middleware as auth_middleware
from django.utils.functional import SimpleLazyObject

RENAMED_BACKENDS = {
    "django.contrib.auth.backends.ModelBackend": "members.auth.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend": "members.auth.AccountBackend",
}


def _get_user(request):
    backend = request.session.get(BACKEND_SESSION_KEY)
    if backend in RENAMED_BACKENDS:
        request.session[BACKEND_SESSION_KEY] = RENAMED_BACKENDS[backend]
    return auth_middleware.get_user(request)


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _get_user(request))
