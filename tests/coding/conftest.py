from __future__ import annotations

from dataclasses import dataclass

import pytest

from analysis.coding.dependents import CodeDependent, code_dependent_register, code_dependent_unregister
from analysis.coding.models import Code
from analysis.coding.services import codebook as services


@dataclass
class Book:
    remote: Code  # Experiences of remote care (top)
    convenience: Code  # └ Convenience and flexibility
    video: Code  # └ Telephone versus video
    relationship: Code  # Therapeutic relationship (top)
    cues: Code  # └ Loss of non-verbal cues
    other_study_code: Code


@pytest.fixture
def book(cast) -> Book:
    lead = cast.users["lead"]
    sid = cast.study.pk

    def make(name: str, parent: Code | None = None, **kw: object) -> Code:
        return services.code_create(actor=lead, study_id=sid, name=name, parent_id=parent.pk if parent else None, **kw)  # type: ignore[arg-type]

    remote = make("Experiences of remote care", is_codable=False)
    convenience = make("Convenience and flexibility", remote, description="Saves travel, time or cost.")
    video = make("Telephone versus video", remote)
    relationship = make("Therapeutic relationship", is_codable=False)
    cues = make("Loss of non-verbal cues", relationship)
    outsider = cast.users["outsider"]
    other = Code.objects.create(study=cast.other_study, name="Elsewhere", created_by=outsider, updated_by=outsider)
    return Book(remote, convenience, video, relationship, cues, other)


@dataclass
class FakeCodings:
    """A stand-in for the codings table, registered through the dependents hook."""

    rows: list[tuple[int, str]]  # (code id, coder)
    merges: list[tuple[int, int]]

    def count(self, ids: list[int]) -> int:
        return sum(1 for code_id, _ in self.rows if code_id in ids)

    def merge(self, source: int, target: int) -> int:
        self.merges.append((source, target))
        moved = [(target, coder) for code_id, coder in self.rows if code_id == source]
        kept = [r for r in self.rows if r[0] != source]
        self.rows = kept + [r for r in moved if r not in kept]  # duplicates collapse
        return len(moved)


@pytest.fixture
def fake_codings():
    from analysis.coding.dependents import _REGISTRY

    real = _REGISTRY.get("codings")  # the codings app's own registration, restored afterwards
    fake = FakeCodings(rows=[], merges=[])
    code_dependent_register(CodeDependent(key="codings", label="coding", count=fake.count, merge=fake.merge))
    yield fake
    code_dependent_unregister("codings")
    if real is not None:
        code_dependent_register(real)


# Codings ------------------------------------------------------------------------------------------
# Transcripts from the transcripts app's own fixtures: SU01 (service user, North; with an emoji) and
# ST01 (staff, South). coder_other_site (South only) sees ST01's transcript but not SU01's.


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle history and presence live in the cache: start every test empty."""
    from django.core.cache import cache

    cache.clear()


def span_of(transcript, words: str) -> tuple[int, int]:
    """Code point offsets of the first occurrence of ``words`` in the transcript's text."""
    i = transcript.text.index(words)
    return i, i + len(words)
