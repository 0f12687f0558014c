"""docs/api.md's five-line Python example, run exactly as written against a live server (issue 15): a
lead's token signs in, asks for a matrix, polls its job and reads the result. Should the API change under
the example, this fails, so the page cannot rot. With REDIS_URL set (CI) the matrix job runs in a real
Celery worker; without it, eagerly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from tests.roles import analysis_world

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def five_lines() -> str:
    text = DOC.read_text()
    section = text.split("## Five lines: a matrix from Python", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "docs/api.md: the five-line example is missing"
    return code.group(1)


def test_the_example_is_five_lines() -> None:
    assert len(five_lines().strip().splitlines()) == 5


@pytest.mark.job
def test_the_five_line_example_pulls_a_matrix(cast: Any, run_jobs: Any, live_server: Any, capsys: Any) -> None:
    analysis_world(cast)  # a study with transcripts, codes and a coding of SU01 (a service user)
    token, _ = Token.objects.get_or_create(user=cast.users["lead"])
    scope: dict[str, Any] = {"API": f"{live_server.url}/api/v1", "TOKEN": token.key, "STUDY": cast.study.pk}
    exec(compile(five_lines(), str(DOC), "exec"), scope)  # the documentation's own code
    m = scope["m"]
    assert m["status"] == "done", m
    assert "Loss of non-verbal cues" in [c["label"] for c in m["result"]["columns"]]
    assert m["result"]["total"]["segments"] >= 1  # the coding of SU01 is counted
    printed = capsys.readouterr().out
    assert printed.startswith("done ['")
    assert "Loss of non-verbal cues" in printed
