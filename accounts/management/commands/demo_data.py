"""Load (or refresh) the demo study: sites, groups and one login per role.

Later parts of Chorus add their demo content through the CHORUS_DEMO_STEPS setting: dotted paths
of callables that take the study and the demo users by e-mail; each must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.models import Membership, Role, Study, User

DEMO_PASSWORD = "chorus-demo-2026"
DEMO_STUDY = "Remote mental-health care (demo)"
DEMO_SITES = ["North Trust", "Midlands Trust", "London Trust"]
DEMO_USERS: list[tuple[str, str, Role, list[str], list[str]]] = [
    ("admin@demo.chorus", "Ada Admin", Role.ADMIN, [], []),
    ("lead@demo.chorus", "Leo Lead", Role.LEAD, [], []),
    ("coder@demo.chorus", "Cora Coder", Role.CODER, [], []),
    ("coder.north@demo.chorus", "Nia North", Role.CODER, ["North Trust"], []),
    ("ppi@demo.chorus", "Pat PPI", Role.PPI, [], []),
]

DemoStep = Callable[[Study, dict[str, User]], None]


def _user(email: str, name: str) -> User:
    user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, full_name=name)
    user.set_password(DEMO_PASSWORD)
    user.is_active = True
    user.save()
    return user


class Command(BaseCommand):
    help = "Create or refresh the demo study and its logins."

    @transaction.atomic
    def handle(self, *args: Any, **opts: Any) -> None:
        users = {email: _user(email, name) for email, name, *_ in DEMO_USERS}
        admin = users["admin@demo.chorus"]
        study = Study.objects.filter(name=DEMO_STUDY).first()
        if study is None:
            study = services.study_create(
                actor=admin, name=DEMO_STUDY, site_names=DEMO_SITES,
                description="A fictional multi-site study of remote mental-health care, for trying Chorus.",
            )
        for email, _name, role, site_names, group_keys in DEMO_USERS:
            m, _ = Membership.objects.update_or_create(user=users[email], study=study, defaults={"role": role})
            m.scope_sites.set(study.sites.filter(name__in=site_names))
            m.scope_groups.set(study.groups.filter(key__in=group_keys))
        from django.utils.module_loading import import_string

        for path in settings.CHORUS_DEMO_STEPS:
            step: DemoStep = import_string(path)
            step(study, users)
        if opts.get("verbosity", 1) < 1:
            return
        self.stdout.write(self.style.SUCCESS(f"\nDemo study: {study.name}"))
        self.stdout.write(f"Every demo login has the password: {DEMO_PASSWORD}")
        for email, _name, role, site_names, _g in DEMO_USERS:
            scope = f" (scoped to {', '.join(site_names)})" if site_names else ""
            self.stdout.write(f"  {role:<6} {email}{scope}")
