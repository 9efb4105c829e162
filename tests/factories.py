"""factory_boy factories for every model."""

from datetime import date, time
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress

from members.models import ManagerAssignment, Member, Skill, User, skill_key
from spaces.models import Closure, OpeningHours, Resource, ResourceKind, Space, Zone

PASSWORD = "correct-horse-battery-9"


class SpaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Space
        django_get_or_create = ["slug"]
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Espace {n}")
    slug = factory.Sequence(lambda n: f"espace-{n}")
    city = "Lille"
    street_address = "1 place du Théâtre"
    postal_code = "59000"
    country = "FR"
    time_zone = "Europe/Paris"
    vat_rate = Decimal("20.00")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} SAS")
    registration_number = "812345672"
    vat_number = "FR32812345672"
    invoice_prefix = factory.Sequence(lambda n: f"T{n:03d}")

    @factory.post_generation
    def weekdays(self, create, extracted, **kwargs):
        """Open Monday to Friday, 08:30-19:00, unless `weekdays=[]` or another list is given."""
        if not create:
            return
        for weekday in range(5) if extracted is None else extracted:
            OpeningHours.objects.create(space=self, weekday=weekday, opens=time(8, 30), closes=time(19, 0))


class OpeningHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OpeningHours

    space = factory.SubFactory(SpaceFactory, weekdays=[])
    weekday = 5
    opens = time(9, 0)
    closes = time(13, 0)


class ClosureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Closure

    space = factory.SubFactory(SpaceFactory)
    start_date = date(2026, 12, 24)
    end_date = date(2026, 12, 26)
    reason = "Noël"


class ZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Zone

    space = factory.SubFactory(SpaceFactory)
    name = factory.Sequence(lambda n: f"Zone {n}")


class ResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resource

    zone = factory.SubFactory(ZoneFactory)
    space = factory.SelfAttribute("zone.space")
    kind = ResourceKind.HOT_DESK
    name = factory.Sequence(lambda n: f"Bureau {n:03d}")


class UserFactory(factory.django.DjangoModelFactory):
    """A user through the manager, so that its Member profile exists as it does in production."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"member{n}@example.com")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.create_user(*args, password=PASSWORD, **kwargs)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)

    @factory.post_generation
    def member(self, create, extracted, **kwargs):
        if create and kwargs:
            Member.objects.filter(user=self).update(**kwargs)
            self.member.refresh_from_db()


class ManagerFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def spaces(self, create, extracted, **kwargs):
        for space in extracted or []:
            ManagerAssignment.objects.create(user=self, space=space)


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skill
        django_get_or_create = ["key"]

    name = factory.Sequence(lambda n: f"Skill {n}")
    key = factory.LazyAttribute(lambda o: skill_key(o.name))


class ManagerAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ManagerAssignment

    user = factory.SubFactory(ManagerFactory)
    space = factory.SubFactory(SpaceFactory)
