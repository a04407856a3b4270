"""factory_boy factories for every model the tests need."""

from datetime import timedelta

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.utils import timezone

from config.roles import AGENTS, PROJECT_MANAGERS, STAKEHOLDERS
from helpdesk.models import Contact, Queue, Ticket, TicketEvent
from helpdesk.services import _take_ticket_number
from projects.models import Milestone, Project

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@staff.example")
    # Hashed once at import: hashing per user would cost a third of a second each.
    password = _PASSWORD_HASH

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        give_roles(self, create, extracted or ())


def give_roles(user, create, names):
    if create and names:
        user.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in names))
    user.save()


class AgentFactory(UserFactory):
    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        give_roles(self, create, extracted or [AGENTS])


class ProjectManagerFactory(UserFactory):
    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        give_roles(self, create, extracted or [PROJECT_MANAGERS])


class StakeholderFactory(UserFactory):
    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        give_roles(self, create, extracted or [STAKEHOLDERS])


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Queue {n}")
    slug = factory.Sequence(lambda n: f"queue-{n}")
    key = factory.Sequence(lambda n: f"Q{n}")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"caller{n}@example.org")
    name = factory.Faker("name")


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    queue = factory.SubFactory(QueueFactory)
    # Taken from the queue like the services do, so factory tickets and tickets the app
    # opens itself (e.g. a project's intake ticket) never share a number.
    number = factory.LazyAttribute(lambda t: _take_ticket_number(t.queue))
    subject = factory.Faker("sentence", nb_words=6)
    description = factory.Faker("paragraph")
    requester = factory.SubFactory(ContactFactory)


class TicketEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketEvent

    ticket = factory.SubFactory(TicketFactory)
    kind = TicketEvent.Kind.REPLY
    public = True
    body = factory.Faker("paragraph")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    key = factory.Sequence(lambda n: f"P{n}")
    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    owner = factory.SubFactory(ProjectManagerFactory)
    status = Project.Status.ACTIVE

    @factory.post_generation
    def stakeholders(self, create, extracted, **kwargs):
        if create and extracted:
            self.stakeholders.add(*extracted)


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Milestone {n}")
    baseline_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=30))
    target_date = factory.LazyAttribute(lambda m: m.baseline_date)
