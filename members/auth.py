"""The authentication backends: Django's and allauth's, reading the signed-in user with SQL built once.

Every signed-in request loads its user (django.contrib.auth does, to check the session against the
password hash); building that query's SQL cost more than the floor of a whole request. The settings name
these classes, so a session records one of them as its backend.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend

from members.models import User
from spaces.prepared import PreparedQuery

_USER_BY_PK = PreparedQuery(lambda pk: User._default_manager.filter(pk=pk)[:1], pk=int)


class _PreparedGetUser:
    def get_user(self, user_id):
        # What ModelBackend.get_user does, without compiling the query on every request.
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        user = _USER_BY_PK.first(pk=pk)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(_PreparedGetUser, DjangoModelBackend):
    pass


class AccountBackend(_PreparedGetUser, AllauthBackend):
    pass
