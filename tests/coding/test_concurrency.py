"""Codings written while the codebook changes, with real concurrent transactions on PostgreSQL
(row locks do not exist on SQLite, whose writes are serialised by the database lock)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from analysis.coding.models import Code, Coding
from analysis.coding.services import codings as coding_services

from .conftest import span_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (set DATABASE_URL to a PostgreSQL database)")


def test_a_code_deleted_while_a_coding_is_written_answers_clearly(cast: Any, book: Any, t_north: Any) -> None:
    code_id = book.video.pk
    locked, failures = threading.Event(), []

    def lead_deletes_the_code() -> None:
        try:
            with transaction.atomic():
                Code.objects.select_for_update().get(pk=code_id)  # as code_delete and code_merge do
                locked.set()
                time.sleep(0.4)  # the coder's write arrives meanwhile
                Code.objects.filter(pk=code_id).delete()
        except Exception as exc:  # reported below: a failure here must fail the test
            failures.append(exc)
        finally:
            connection.close()

    deleter = threading.Thread(target=lead_deletes_the_code)
    deleter.start()
    assert locked.wait(5)
    s, e = span_of(t_north, "phoned me every week")
    started = time.monotonic()
    with pytest.raises(ValidationError) as exc:
        coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                      code_id=code_id, start=s, end=e)
    deleter.join(5)
    assert failures == []
    assert time.monotonic() - started > 0.2  # it waited for the delete instead of racing it
    assert "deleted" in str(exc.value)
    assert not Code.objects.filter(pk=code_id).exists()
    assert not Coding.objects.filter(code_id=code_id).exists()


@pytest.mark.parametrize("deleted", ["video", "remote"])  # the code itself, or its parent (with sub-codes)
def test_deleting_a_code_while_coders_use_it_neither_deadlocks_nor_leaves_codings(cast: Any, book: Any,
                                                                                  t_north: Any, deleted: str) -> None:
    from analysis.coding.services import codebook as services

    s, e = span_of(t_north, "phoned me every week")
    coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                  code_id=book.video.pk, start=s, end=e)
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def code_repeatedly(who: str) -> None:
        try:
            start.wait()
            for i in range(15):
                with contextlib.suppress(ValidationError):  # the code is gone: a clear answer
                    coding_services.coding_create(actor=cast.users[who], study_id=cast.study.pk,
                                                  transcript_id=t_north.pk, code_id=book.video.pk,
                                                  start=i, end=i + 3)
        except BaseException as exc:  # a deadlock or an IntegrityError would land here
            errors.append(exc)
        finally:
            connection.close()

    coders = [threading.Thread(target=code_repeatedly, args=(who,)) for who in ("coder", "lead")]
    for t in coders:
        t.start()
    start.wait()
    time.sleep(0.05)
    services.code_delete(actor=cast.users["lead"], study_id=cast.study.pk, code_id=getattr(book, deleted).pk,
                         confirm=True)
    for t in coders:
        t.join(20)
    assert errors == []
    assert not Coding.objects.filter(code_id=book.video.pk).exists()


def test_two_opposite_merges_of_the_same_pair_do_not_deadlock(cast: Any) -> None:
    from django.http import Http404

    from analysis.coding.services import codebook as services

    lead = cast.users["lead"]
    for round_ in range(5):
        x = services.code_create(actor=lead, study_id=cast.study.pk, name=f"X{round_}")
        y = services.code_create(actor=lead, study_id=cast.study.pk, name=f"Y{round_}")
        barrier, outcomes = threading.Barrier(2), []

        def merge(source: int, target: int, barrier: threading.Barrier = barrier,
                  outcomes: list[str] = outcomes) -> None:
            try:
                barrier.wait()
                services.code_merge(actor=lead, study_id=cast.study.pk, source_id=source, target_id=target)
                outcomes.append("merged")
            except (ValidationError, Http404):
                outcomes.append("refused")  # the other merge removed one of the two codes first
            except BaseException as exc:  # a deadlock would land here
                outcomes.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=merge, args=pair) for pair in ((x.pk, y.pk), (y.pk, x.pk))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert sorted(outcomes) == ["merged", "refused"], outcomes
        assert Code.objects.filter(pk__in=[x.pk, y.pk]).count() == 1
