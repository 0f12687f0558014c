"""Reporting words under a matrix: sentences from the stored numbers, with denominators and percentages,
only where a denominator exists; the same numbers are in the table."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.matrices import engine, selectors
from analysis.matrices.models import Matrix
from analysis.matrices.words import reporting_sentences

from .conftest import Small


def test_sentences_from_a_result() -> None:
    result = {
        "columns": [{"id": 1, "label": "Loss of non-verbal cues"}, {"id": 2, "label": "Waiting"}],
        "rows": [{"id": 1, "label": "Staff"}, {"id": 2, "label": "Carer"}, {"id": 3, "label": "Empty"}],
        "row_bases": [20, 15, 0],
        "cells": [[{"participants": 12}, {"participants": 0}], [{"participants": 3}, {"participants": 15}],
                  [{"participants": 0}, {"participants": 0}]],
    }
    assert reporting_sentences(result, rows="group") == [
        "Loss of non-verbal cues: 12 of 20 participants in Staff (60 %) and 3 of 15 in Carer (20 %).",
        "Waiting: 0 of 20 participants in Staff (0 %) and 15 of 15 in Carer (100 %).",
    ]
    assert reporting_sentences(result, rows="site")[0].startswith("Loss of non-verbal cues: 12 of 20 participants at Staff")
    assert reporting_sentences(result, rows="participant") == []  # no denominator worth a sentence


@pytest.mark.django_db
def test_words_under_the_heatmap_match_the_table(cast: Any, small: Small, clients: Any) -> None:
    lead, sid = cast.users["lead"], cast.study.pk
    spec = selectors.spec_parse({"columns": "themes"})
    r = engine.matrix_compute(user=lead, study_id=sid, spec=spec)
    m = Matrix.objects.create(study=cast.study, created_by=lead, spec=spec.as_dict(), key=spec.key,
                              data_version=selectors.data_version(study_id=sid), result=selectors.result_json(r))
    html = clients["lead"].get(f"/studies/{sid}/matrices/{m.pk}/").content.decode()
    assert "In words" in html
    # SU01 (service user) and CA01 (carer, withdrawn keeping data) count; CA02 never; ST01 coded cues too.
    assert ("Seeing each other: 1 of 1 participants in Service user (100 %), 1 of 1 in Carer (100 %) "
            "and 1 of 1 in Staff (100 %).") in html
    per_participant = selectors.spec_parse({"columns": "themes", "rows": "participant"})
    r2 = engine.matrix_compute(user=lead, study_id=sid, spec=per_participant)
    m2 = Matrix.objects.create(study=cast.study, created_by=lead, spec=per_participant.as_dict(),
                               key=per_participant.key, data_version="x", result=selectors.result_json(r2))
    assert "In words" not in clients["lead"].get(f"/studies/{sid}/matrices/{m2.pk}/").content.decode()
