from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def generated(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Generator output for 65 (the real study) and 1,000 participants, made once per session."""
    out: dict[int, Path] = {}
    for n, seed in ((65, 1), (1000, 2)):
        target = tmp_path_factory.mktemp(f"study{n}")
        subprocess.run(
            [sys.executable, str(shared_dir / "tools" / "make_study.py"), str(target), "--participants", str(n),
             "--seed", str(seed), "--chars", "400"],
            check=True, capture_output=True,
        )
        out[n] = target
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
