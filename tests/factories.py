"""factory_boy factories for every model."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress

from bookings.models import Booking, DayPart
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
    # Most tests are about booking rules, not passes: their spaces let members book desks freely.
    # The entitlement tests, the demo data and the browser flows use spaces where desks need a pass.
    desks_need_pass = False

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
            if "profession" in kwargs:
                kwargs.setdefault("profession_key", skill_key(kwargs["profession"]))
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


class BookingFactory(factory.django.DjangoModelFactory):
    """A confirmed booking written directly (the service's rules are tested on their own): a desk for
    `day`'s `part`, or a room from `start_time` to `end_time`."""

    class Meta:
        model = Booking
        exclude = ["day", "start_time", "end_time"]

    resource = factory.SubFactory(ResourceFactory)
    space = factory.SelfAttribute("resource.space")
    member = factory.SubFactory(UserFactory, member__display_name="Membre")
    day = date(2026, 11, 24)
    part = DayPart.FULL_DAY
    start_time = None
    end_time = None
    local_date = factory.SelfAttribute("day")
    is_desk = factory.LazyAttribute(lambda o: o.resource.is_desk)
    confirmation_pending = False

    @factory.lazy_attribute
    def start(self):
        return _bounds(self)[0]

    @factory.lazy_attribute
    def end(self):
        return _bounds(self)[1]

    @classmethod
    def create_past_batch(cls, count, *, resource, member, last_day=date(2026, 11, 20)):
        """`count` past full-day bookings on consecutive days before `last_day`, in one INSERT batch."""
        rows = []
        for n in range(count):
            day = last_day - timedelta(days=n)
            bounds = resource.space.day_bounds(day)
            rows.append(
                Booking(
                    resource=resource,
                    space=resource.space,
                    member=member,
                    start=bounds.start,
                    end=bounds.end,
                    local_date=day,
                    part=DayPart.FULL_DAY,
                    is_desk=resource.is_desk,
                    confirmation_pending=False,
                )
            )
        return Booking.objects.bulk_create(rows, batch_size=2000)


def _bounds(o):
    space = o.resource.space
    if o.start_time is not None:
        return (
            datetime.combine(o.day, o.start_time, tzinfo=space.tz),
            datetime.combine(o.day, o.end_time, tzinfo=space.tz),
        )
    if o.part == DayPart.FULL_DAY:
        bounds = space.day_bounds(o.day)
    else:
        morning, afternoon = space.half_day_bounds(o.day)
        bounds = morning if o.part == DayPart.MORNING else afternoon
    return bounds.start, bounds.end


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.Plan"

    space = factory.SubFactory(SpaceFactory)
    name = "Mensuel"
    kind = "monthly"
    unit_price = Decimal("250.00")
    desk_access = "hot_desk"
