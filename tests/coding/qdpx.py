"""Read the generator's study.qdpx for tests: texts and each coder's selections, with lxml,
independently of Chorus' importers."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from lxml import etree

NS = {"q": "urn:QDA-XML:project:1.0"}


def make_study(shared: Path, out: Path, *, participants: int, chars: int = 30000, seed: int = 1) -> Path:
    if not (out / "study.qdpx").exists():
        subprocess.run(
            [sys.executable, str(shared / "tools" / "make_study.py"), str(out), "--participants", str(participants),
             "--chars", str(chars), "--seed", str(seed)],
            check=True, capture_output=True,
        )
    return out


def read_qdpx(path: Path) -> tuple[dict[str, str], dict[str, dict[str, dict[str, list[tuple[int, int]]]]], dict[str, str]]:
    """(texts by source name, selections[coder][source][code guid] -> spans, code names by guid)."""
    with zipfile.ZipFile(path) as z:
        root = etree.fromstring(z.read("project.qde"), etree.XMLParser(resolve_entities=False, no_network=True))
        users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:Users/q:User", NS)}
        names = {c.get("guid"): c.get("name") for c in root.iterfind(".//q:CodeBook//q:Code", NS)}
        texts: dict[str, str] = {}
        selections: dict[str, dict[str, dict[str, list[tuple[int, int]]]]] = {n: {} for n in users.values()}
        for source in root.iterfind(".//q:Sources/q:TextSource", NS):
            name = source.get("name")
            inner = source.get("plainTextPath").replace("internal://", "")
            texts[name] = z.read(f"sources/{inner}").decode("utf-8")
            for sel in source.iterfind("q:PlainTextSelection", NS):
                coder = users[sel.get("creatingUser")]
                span = (int(sel.get("startPosition")), int(sel.get("endPosition")))
                for ref in sel.iterfind("q:Coding/q:CodeRef", NS):
                    selections[coder].setdefault(name, {}).setdefault(ref.get("targetGUID"), []).append(span)
    return texts, selections, names
