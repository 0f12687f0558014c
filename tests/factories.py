import factory

from accounts.models import Membership, ParticipantGroup, Role, Site, Study, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Faker("name", locale="en_GB")
    password = factory.django.Password("correct horse battery")


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Study {n}")
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def default_groups(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            for pos, (key, label) in enumerate([("service_user", "Service user"), ("carer", "Carer"), ("staff", "Staff")]):
                ParticipantGroup.objects.get_or_create(study=self, key=key, defaults={"label": label, "position": pos})


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    study = factory.SubFactory(StudyFactory)
    name = factory.Sequence(lambda n: f"Site {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    study = factory.SubFactory(StudyFactory)
    role = Role.CODER
