from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction

from members import services


class AccountAdapter(DefaultAccountAdapter):
    """Every account created through sign-up gets its Member profile in the same transaction."""

    def save_user(self, request, user, form, commit=True):
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=commit)
            if commit:
                services.member_create(user=user)
        return user
