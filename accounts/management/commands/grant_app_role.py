"""Give the application's database role what it needs and nothing more (PostgreSQL; run as the owner).

The tables belong to the role that runs migrations (the owner). The application connects as another
role that may read and write rows but owns nothing, so it cannot TRUNCATE a table, ALTER it (DISABLE
TRIGGER) or drop it: the audit trail's append-only trigger then holds against the application itself,
and the application is additionally refused UPDATE and DELETE on the audit table. Run after every
``migrate`` (idempotent); docker-compose.yml does.

    DATABASE_URL=postgres://owner@db/chorus python manage.py grant_app_role chorus_app --password-env CHORUS_APP_DB_PASSWORD
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from config.db import MAINTENANCE_FUNCTION

# Rows the application may add and read but never change or remove.
APPEND_ONLY_TABLES = ("accounts_auditevent",)


class Command(BaseCommand):
    help = "Grant the application's database role row access (no ownership); create it if a password is given."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the application's database role, e.g. chorus_app")
        parser.add_argument("--password-env", default="",
                            help="environment variable holding the role's password: create the role if missing")

    def handle(self, *args: Any, role: str, password_env: str, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are a PostgreSQL setup; the embedded SQLite demo has none.")
        qn = connection.ops.quote_name
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT current_user")
            owner = cur.fetchone()[0]
            if owner == role:
                raise CommandError("Run this as the owner of the tables (the migrations' role), not as the application.")
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if not cur.fetchone():
                password = os.environ.get(password_env, "") if password_env else ""
                if not password:
                    raise CommandError(f"The role {role} does not exist: create it, or pass --password-env with "
                                       "the name of a variable that holds its password.")
                cur.execute(f"CREATE ROLE {qn(role)} LOGIN PASSWORD %s", [password])
            cur.execute(f"ALTER ROLE {qn(role)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS")
            cur.execute("SELECT current_database()")
            database = cur.fetchone()[0]
            cur.execute(f"GRANT CONNECT ON DATABASE {qn(database)} TO {qn(role)}")
            cur.execute(f"GRANT USAGE ON SCHEMA public TO {qn(role)}")
            cur.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {qn(role)}")
            cur.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {qn(role)}")
            # Tables that later migrations create (as the owner) are granted the same way.
            cur.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {qn(owner)} IN SCHEMA public "
                        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {qn(role)}")
            cur.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {qn(owner)} IN SCHEMA public "
                        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {qn(role)}")
            for table in APPEND_ONLY_TABLES:
                cur.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {qn(table)} FROM {qn(role)}")
            cur.execute(MAINTENANCE_FUNCTION)
            cur.execute("REVOKE ALL ON FUNCTION chorus_maintenance(text[], text[]) FROM PUBLIC")
            cur.execute(f"GRANT EXECUTE ON FUNCTION chorus_maintenance(text[], text[]) TO {qn(role)}")
            cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", [role])
            if cur.fetchone()[0]:
                raise CommandError(f"{role} owns tables: the application must not own them. Run migrations as "
                                   "the owner and change the tables' owner (ALTER TABLE … OWNER TO …).")
        self.stdout.write(f"{role} may read and write rows in {database}; {owner} keeps ownership.")
