"""Backup and restore (docs/operations.md, "Backup and restore"): a backup set restored into a fresh
database and media folder gives back an identifiable field (decrypted with the configured keys) and an
original transcript file byte for byte; a damaged set or missing keys restore nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from participants.crypto import decrypt_text, encrypt_text
from participants.models import Participant

from .factories import ST01_TEXT, add_transcript, participant_row

pytestmark = pytest.mark.django_db(transaction=True)
NAME = "Perpetua Backup-Witness"


@pytest.fixture
def seeded(cast: Any, settings: Any, tmp_path: Path) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    p = participant_row(cast, "ST09", "staff", cast.south)
    Participant.objects.filter(pk=p.pk).update(name_encrypted=encrypt_text(NAME))
    t = add_transcript(cast, p, ST01_TEXT.replace("ST01", "ST09"))
    return t


@pytest.fixture
def target(tmp_path: Path) -> Any:
    """An empty database of the test database's kind, as a URL; dropped afterwards."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}", lambda sql: _sqlite(tmp_path / "restored.sqlite3", sql)
        return
    import psycopg

    db = connection.settings_dict
    name = f"{db['NAME']}_restored"
    host, port, user = db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["USER"]
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')

    def query(sql: str) -> Any:
        with psycopg.connect(host=host, port=port, user=user, dbname=name) as conn:
            return conn.execute(sql).fetchall()

    yield f"postgres://{user}@{host}:{port}/{name}", query
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sqlite(path: Path, sql: str) -> Any:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _tables(query: Any) -> int:
    """How many of Chorus's tables the target database has (0: nothing was restored into it)."""
    if connection.vendor == "sqlite":
        return query("SELECT count(*) FROM sqlite_master WHERE name = 'participants_participant'")[0][0]
    return query("SELECT count(*) FROM pg_tables WHERE tablename = 'participants_participant'")[0][0]


def _backup(tmp_path: Path) -> Path:
    call_command("backup", str(tmp_path / "backups"))
    (folder,) = (tmp_path / "backups").iterdir()
    return folder


def test_backup_then_restore_reads_back_an_identifiable_field_and_an_original_file(
    seeded: Any, target: Any, tmp_path: Path, settings: Any
) -> None:
    url, query = target
    original = Path(seeded.original_file.path).read_bytes()
    folder = _backup(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["field_keys"]
    assert settings.CHORUS_FIELD_KEYS[0] not in (folder / "manifest.json").read_text()  # fingerprints, not keys
    restored_media = tmp_path / "restored-media"
    call_command("restore", str(folder), "--database-url", url, "--media-root", str(restored_media))
    (token,) = query("SELECT name_encrypted FROM participants_participant WHERE pseudonym = 'ST09'")[0]
    assert decrypt_text(token) == NAME
    (name,) = query(f"SELECT original_file FROM transcripts_transcript WHERE id = {seeded.pk}")[0]
    assert (restored_media / name).read_bytes() == original


def test_a_damaged_set_or_missing_keys_restore_nothing(seeded: Any, target: Any, tmp_path: Path,
                                                      settings: Any) -> None:
    url, query = target
    folder = _backup(tmp_path)
    media = folder / "media.tar.gz"
    media.write_bytes(media.read_bytes()[:-10])
    with pytest.raises(CommandError, match="damaged"):
        call_command("restore", str(folder), "--database-url", url, "--media-root", str(tmp_path / "m1"))
    assert not (tmp_path / "m1").exists()
    assert _tables(query) == 0
    folder = _backup(tmp_path / "again")
    settings.CHORUS_FIELD_KEYS = ["dGhpcy1pcy1ub3QtdGhlLWtleS1pdC13YXMtbWFkZS0xMjM0NTY3ODk="]
    with pytest.raises(CommandError, match="field keys"):
        call_command("restore", str(folder), "--database-url", url, "--media-root", str(tmp_path / "m2"))
    assert not (tmp_path / "m2").exists()
    assert _tables(query) == 0
