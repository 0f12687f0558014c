"""`make demo` on a database made by an older Chorus stops with a message that says what to do."""

from __future__ import annotations

import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.django_db
def test_demo_on_an_older_database_says_to_start_afresh() -> None:
    # An older Chorus recorded different migrations: here a later migration is applied while the
    # first one it depends on is not, which is what Django finds after apps were renamed.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'accounts' AND name = '0001_initial'")
    with pytest.raises(CommandError) as err:
        call_command("demo", addr=f"127.0.0.1:{_free_port()}", no_worker=True)
    message = str(err.value)
    assert message.startswith("This var/ was made by an older Chorus")
    assert "run `make demo` again" in message
    assert "Traceback" not in message
