"""API authentication (its own module: DRF imports authentication classes while it is itself being
imported, so this module must not import ``rest_framework.views``)."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check (same header, same errors), as one plain statement.

    It runs on every API request; DRF's ORM lookup (``select_related("user").get()``) cost ~2 ms
    of Python to build on every request. The user is an ordinary model instance
    (``Model.objects.raw`` applies the ORM's converters)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        from accounts.models import User

        users = list(User.objects.raw(_TOKEN_USER_SQL, [key]))
        if not users:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = users[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db(user._state.db, ["key", "user_id"], [key, user.pk])
        token.user = user
        return user, token


_TOKEN_USER_SQL = "SELECT u.* FROM accounts_user u JOIN authtoken_token t ON t.user_id = u.id WHERE t.key = %s"
