from django.core.management.base import BaseCommand, CommandError

from members import tokens
from members.models import User


class Command(BaseCommand):
    help = (
        "Create a personal API token for the account with this e-mail address. The token alone is printed "
        "on stdout (so that `TOKEN=$(manage.py create_api_token …)` works); it is not stored and cannot be "
        "shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="E-mail address of the account.")
        parser.add_argument(
            "--name", default="Command line", help='Name of the token (default: "Command line").'
        )

    def handle(self, *args, **options):
        email = options["email"].strip()
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No account has the e-mail address {email!r}.")
        if not user.is_active:
            raise CommandError(f"The account {email!r} is inactive: a token would not authenticate.")
        try:
            token, raw = tokens.token_create(user=user, name=options["name"])
        except ValueError:
            raise CommandError("The token needs a name: --name must not be blank.") from None
        self.stdout.write(raw)
        self.stderr.write(f"Token {token.name!r} ({token.prefix}…) created for {user.email}. Copy it now.")
