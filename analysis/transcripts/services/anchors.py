"""The registry of anchored models: everything that points at a span of a transcript (speaker turns
now; codings, memo anchors and quotes when they arrive) is listed in ``settings.CHORUS_ANCHORED_MODELS``
as ``"app_label.ModelName"``. A redaction re-anchors every registered model inside its own
transaction, so no span is ever left pointing at shifted text.

A registered model declares, as class attributes (defaults in brackets):
  ``anchor_transcript_field`` ["transcript"], ``anchor_start_field`` ["start"],
  ``anchor_end_field`` ["end"], and optionally ``anchor_lost_field``: a BooleanField set to True
  when the span's text was deleted entirely.

Spans that need more than moving (a record whose spans must stay unique, or that keeps a snapshot of
spans) register a function instead, in ``settings.CHORUS_REANCHOR_HOOKS`` as a dotted path:
``hook(*, transcript_id, edit_map) -> AnchorReport``, called in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils.module_loading import import_string

from analysis.transcripts.text import EditMap, SpanStatus


@dataclass(frozen=True)
class Anchored:
    model: type[models.Model]
    transcript_field: str
    start_field: str
    end_field: str
    lost_field: str | None

    @property
    def label(self) -> str:
        return self.model._meta.label


def anchored_models() -> list[Anchored]:
    out = []
    for label in getattr(settings, "CHORUS_ANCHORED_MODELS", []):
        model = apps.get_model(label)
        out.append(Anchored(
            model=model,
            transcript_field=getattr(model, "anchor_transcript_field", "transcript"),
            start_field=getattr(model, "anchor_start_field", "start"),
            end_field=getattr(model, "anchor_end_field", "end"),
            lost_field=getattr(model, "anchor_lost_field", None),
        ))
    return out


@dataclass
class AnchorReport:
    moved: int = 0
    changed: list[Any] = field(default_factory=list)
    lost: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"moved": self.moved, "changed": self.changed, "lost": self.lost}


def reanchor(*, transcript_id: int, edit_map: EditMap) -> dict[str, AnchorReport]:
    """Move every registered anchored span of one transcript through an edit batch. Call inside
    the transaction that changes the text. Returns per model: how many moved, and the ids of those
    whose text changed or was lost."""
    reports: dict[str, AnchorReport] = {}
    for a in anchored_models():
        report = AnchorReport()
        rows = list(a.model._default_manager.filter(**{a.transcript_field: transcript_id}).select_for_update())
        dirty = []
        for obj in rows:
            start, end = getattr(obj, a.start_field), getattr(obj, a.end_field)
            mapped = edit_map.map_span(start, end)
            if (mapped.start, mapped.end) != (start, end):
                setattr(obj, a.start_field, mapped.start)
                setattr(obj, a.end_field, mapped.end)
                report.moved += 1
                dirty.append(obj)
            if mapped.status == SpanStatus.CHANGED:
                report.changed.append(obj.pk)
            elif mapped.status == SpanStatus.LOST:
                report.lost.append(obj.pk)
                if a.lost_field:
                    setattr(obj, a.lost_field, True)
                    if obj not in dirty:
                        dirty.append(obj)
        update_fields = [a.start_field, a.end_field] + ([a.lost_field] if a.lost_field else [])
        if dirty:
            a.model._default_manager.bulk_update(dirty, update_fields, batch_size=500)
        reports[a.label] = report
    for path in getattr(settings, "CHORUS_REANCHOR_HOOKS", []):
        reports[path] = import_string(path)(transcript_id=transcript_id, edit_map=edit_map)
    return reports
