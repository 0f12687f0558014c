"""Backup and restore of a whole installation: the database, the media folder (original transcripts,
signed consent forms, exports) and a record of which field keys the identifiable fields need.

A backup set is a folder::

    chorus-backup-20261203T080000Z/
        database.dump        pg_dump custom format (PostgreSQL), or database.sqlite3 (the embedded demo)
        media.tar.gz         the media folder
        manifest.json        when, from what, a SHA-256 per file, and the fingerprints of the field keys

The field keys themselves are NOT in the set (whoever holds the set would hold the names too): they are
kept apart, and restore checks that the keys configured where it runs are the ones the data needs, by
decrypting one identifiable field. docs/operations.md, "Backup and restore"."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import environ
from django.conf import settings
from django.db import connection

MANIFEST = "manifest.json"
MEDIA = "media.tar.gz"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def key_fingerprint(key: str) -> str:
    """Identifies a key without revealing it."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:16]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pg_env(db: dict[str, Any]) -> dict[str, str]:
    env = {**os.environ, "PGHOST": str(db.get("HOST") or "127.0.0.1"), "PGPORT": str(db.get("PORT") or 5432),
           "PGUSER": str(db.get("USER") or ""), "PGDATABASE": str(db["NAME"])}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    try:
        # A list, never a shell: the arguments are the PostgreSQL tools and paths this module built.
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(f"{cmd[0]} is not installed: install the PostgreSQL client tools "
                          "(Debian: apt-get install postgresql-client).") from exc
    if done.returncode != 0:
        raise BackupError(f"{cmd[0]} failed: {done.stderr.strip()[:2000]}")


def backup_create(*, dest: Path) -> Path:
    """Write a backup set under ``dest`` and return its folder."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = dest / f"chorus-backup-{stamp}"
    out.mkdir(parents=True, exist_ok=False)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        db_file = out / "database.dump"
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={db_file}"], _pg_env(db))
    elif connection.vendor == "sqlite":
        db_file = out / "database.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(db_file)
        try:
            connection.connection.backup(target)  # a consistent copy, also of a database in use
        finally:
            target.close()
    else:
        raise BackupError(f"Backing up a {connection.vendor} database is not supported.")
    media_root = Path(settings.MEDIA_ROOT)
    with tarfile.open(out / MEDIA, "w:gz") as tar:
        if media_root.exists():
            tar.add(media_root, arcname="media")
    files = [db_file.name, MEDIA]
    manifest = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(), "database": connection.vendor,
        "files": {name: _sha256(out / name) for name in files},
        "field_keys": [key_fingerprint(k) for k in settings.CHORUS_FIELD_KEYS],
        "note": "The field keys are not in this folder. Without them the identifiable fields cannot be read.",
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return out


@dataclass
class Restored:
    database: str
    media_root: Path
    checked_field: bool  # an identifiable field was decrypted with the configured keys


def backup_restore(*, source: Path, database_url: str, media_root: Path) -> Restored:
    """Restore a backup set into ``database_url`` (an empty database, or one to overwrite) and ``media_root``,
    after checking every file against the manifest and the configured keys against the manifest's."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a backup set (no readable {MANIFEST}).") from exc
    for name, digest in manifest["files"].items():
        path = source / name
        if not path.exists() or _sha256(path) != digest:
            raise BackupError(f"{name} is missing or damaged (its SHA-256 differs from the manifest): "
                              "nothing was restored.")
    configured = {key_fingerprint(k) for k in settings.CHORUS_FIELD_KEYS}
    needed = set(manifest.get("field_keys", []))
    if needed and not needed & configured:
        raise BackupError("None of the field keys this backup was made with is configured (CHORUS_FIELD_KEYS): "
                          "restore them first, or the participants' names and contacts cannot be read. "
                          "Nothing was restored.")
    db = environ.Env.db_url_config(database_url)
    if manifest["database"] == "postgresql":
        if "postgres" not in db["ENGINE"]:
            raise BackupError("This backup is of a PostgreSQL database: restore it into PostgreSQL.")
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--exit-on-error",
              f"--dbname={db['NAME']}", str(source / "database.dump")], _pg_env(db))
    else:
        if "sqlite" not in db["ENGINE"]:
            raise BackupError("This backup is of an SQLite database: restore it into an SQLite file.")
        shutil.copyfile(source / "database.sqlite3", db["NAME"])
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source / MEDIA, "r:gz") as tar:
        members = []
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if not parts or parts[0] != "media":
                continue
            member.name = str(Path(*parts[1:])) if len(parts) > 1 else "."
            members.append(member)
        tar.extractall(media_root, members=members, filter="data")  # "data": no links out, no absolute paths
    return Restored(database=str(db["NAME"]), media_root=media_root,
                    checked_field=_check_a_field(manifest["database"], db))


def _check_a_field(vendor: str, db: dict[str, Any]) -> bool:
    """Decrypt one identifiable field of the restored database with the configured keys."""
    from participants.crypto import decrypt_text

    sql = "SELECT name_encrypted FROM participants_participant WHERE name_encrypted <> '' LIMIT 1"
    if vendor == "postgresql":
        import psycopg

        with psycopg.connect(host=db.get("HOST") or "127.0.0.1", port=db.get("PORT") or 5432, dbname=db["NAME"],
                             user=db.get("USER") or None, password=db.get("PASSWORD") or None) as conn:
            row = conn.execute(sql).fetchone()
    else:
        lite = sqlite3.connect(db["NAME"])
        try:
            row = lite.execute(sql).fetchone()
        finally:
            lite.close()
    if row is None:
        return False
    decrypt_text(row[0])  # raises, naming the problem, when a key is missing
    return True
