"""What real tools write (../shared/refi-qda/NOTES.md): positions in UTF-16 units or bytes, CRLF counted
as one or two, a BOM, flat ``A::B`` code names, a differently named .qde, ``Sources/``. Each is detected,
converted and reported, and the codings land on the same characters; a position that cannot be placed
exactly is reported with its text and left out."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.coding.models import Code, Coding, Memo
from analysis.transcripts.models import Transcript
from interop.positions import PositionMap, Units
from interop.services import imports
from participants.models import ConsentState, Participant

from .conftest import CONSENTED, qdpx

pytestmark = pytest.mark.django_db
U = "00000000-0000-4000-8000-0000000000"
TEXT = "Interviewer: How was it?\r\nSU01: She sent me a 👍 afterwards.\r\nI missed the café, honestly.\r\n"
WANTED = ["She sent me a 👍 afterwards.", "I missed the café", "café"]


def _spans(raw: str, units: Units) -> list[tuple[int, int]]:
    """Where each wanted phrase is, counted the way ``units`` counts (the inverse of PositionMap)."""
    def count(prefix: str) -> int:
        if not units.crlf_as_two:
            prefix = prefix.replace("\r\n", "\n")
        if units.unit == "utf16":
            return len(prefix.encode("utf-16-le")) // 2
        if units.unit == "utf8":
            return len(prefix.encode("utf-8"))
        return len(prefix)

    out = []
    for w in WANTED:
        at = raw.index(w)
        out.append((count(raw[:at]), count(raw[:at + len(w)])))
    return out


def _project(origin: str, spans: list[tuple[int, int]], *, names: bool = False, path: str = "Sources",
             code_names: tuple[str, ...] = ("Cues", "Cues", "Cues")) -> str:
    sels = "".join(
        f'<PlainTextSelection guid="{U}{30 + i}" startPosition="{s}" endPosition="{e}" creatingUser="{U}01"'
        + (f' name="{WANTED[i]}"' if names else "") + ">"
        f'<Coding guid="{U}{40 + i}" creatingUser="{U}01"><CodeRef targetGUID="{U}{10 + i}"/></Coding>'
        + (f'<NoteRef targetGUID="{U}60"/>' if i == 0 else "") + "</PlainTextSelection>"
        for i, (s, e) in enumerate(spans))
    codes = "".join(f'<Code guid="{U}{10 + i}" name="{n}{"" if i == 0 else i}" isCodable="true" color="#AA0000"/>'
                    for i, n in enumerate(code_names))
    return (f'<?xml version="1.0" encoding="utf-8"?><Project xmlns="urn:QDA-XML:project:1.0" name="t" origin="{origin}">'
            f'<Users><User guid="{U}01" name="Ann Coder"/></Users><CodeBook><Codes>{codes}</Codes></CodeBook>'
            f'<Sources><TextSource guid="{U}20" name="SU01" plainTextPath="{U}20.txt">{sels}</TextSource></Sources>'
            f'<Notes><Note guid="{U}60" name="Why the emoji"><PlainTextContent>It reads as thanks.</PlainTextContent>'
            f"</Note></Notes></Project>")


@pytest.fixture
def su01(cast: Any) -> Participant:
    return Participant.objects.create(study=cast.study, pseudonym="SU01", group=cast.group("service_user"),
                                      site=cast.north, consent_state=ConsentState.CONSENTED,
                                      consent_answers=CONSENTED, created_by=cast.users["admin"])


def _import(cast: Any, data: bytes, capture: Any) -> dict[str, Any]:
    lead = cast.users["lead"]
    record = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="p.qdpx", data=data)
    with capture(execute=True):
        imports.project_import_start(actor=lead, study_id=cast.study.pk, import_id=record.pk)
    return record.preview


def _placed() -> list[str]:
    return [c.transcript.text[c.start:c.end] for c in Coding.objects.select_related("transcript").order_by("code__name")]


@pytest.mark.parametrize(("origin", "units", "bom", "conversion"), [
    ("NVivo 14 (Windows)", Units("utf16", True), True, "UTF-16 code units"),
    ("ATLAS.ti 9.1", Units("cp", False), False, None),
    ("QualCoder 3.5", Units("cp", True), False, None),
])
def test_positions_of_real_tools_land_on_the_same_text(cast: Any, su01: Participant, origin: str, units: Units,
                                                       bom: bool, conversion: str | None,
                                                       django_capture_on_commit_callbacks: Any) -> None:
    raw = TEXT
    data = (b"\xef\xbb\xbf" if bom else b"") + raw.encode("utf-8")
    preview = _import(cast, qdpx(_project(origin, _spans(raw, units)), {f"Sources/{U}20.txt": data}),
                      django_capture_on_commit_callbacks)
    assert sorted(_placed()) == sorted(WANTED)
    t = Transcript.objects.get()
    assert t.text == raw.replace("\r\n", "\n")  # the source's own text; only line ends written as \n
    messages = " ".join(c["message"] for c in preview["conversions"])
    assert "CRLF" in messages
    assert ("byte-order mark" in messages) == bom
    if conversion:
        assert conversion in messages
    # The note on the first selection became a memo on its coding.
    memo = Memo.objects.get()
    assert memo.coding is not None
    assert memo.coding.transcript_id == t.pk
    assert memo.body == "It reads as thanks."


def test_byte_positions_are_detected_from_the_quoted_text(cast: Any, su01: Participant,
                                                          django_capture_on_commit_callbacks: Any) -> None:
    raw = TEXT.replace("\r\n", "\n")
    preview = _import(cast, qdpx(_project("Some tool 1.0", _spans(raw, Units("utf8")), names=True),
                                 {f"sources/{U}20.txt": raw.encode()}), django_capture_on_commit_callbacks)
    assert sorted(_placed()) == sorted(WANTED)
    assert any("bytes (UTF-8)" in c["message"] for c in preview["conversions"])


def test_a_position_inside_an_emoji_is_reported_with_its_text_not_moved(cast: Any, su01: Participant,
                                                                         django_capture_on_commit_callbacks: Any) -> None:
    raw = TEXT
    spans = _spans(raw, Units("utf16", True))
    inside = (spans[0][0], spans[0][0] + 15)  # "She sent me a " is 14 units, the emoji 2: 15 splits it
    preview = _import(cast, qdpx(_project("NVivo 14", [inside, spans[1], spans[2]]),
                                 {f"sources/{U}20.txt": raw.encode()}), django_capture_on_commit_callbacks)
    assert sorted(_placed()) == sorted(WANTED[1:])
    [u] = preview["unplaced"]
    assert u["source"] == "SU01"
    assert "inside a character" in u["reason"]
    assert u["text"].startswith("She sent me a")


def test_flat_code_names_become_a_hierarchy(cast: Any, su01: Participant,
                                            django_capture_on_commit_callbacks: Any) -> None:
    raw = TEXT.replace("\r\n", "\n")
    _import(cast, qdpx(_project("ATLAS.ti 8.4", _spans(raw, Units("cp")), code_names=("Care::Cues", "Care::Safe", "Other")),
                       {f"sources/{U}20.txt": raw.encode()}, qde_name="My project.qde"), django_capture_on_commit_callbacks)
    care = Code.objects.get(study=cast.study, name="Care")
    assert not care.is_codable
    assert {c.name for c in care.children.all()} == {"Cues", "Safe1"}
    assert Code.objects.get(study=cast.study, name="Cues").colour == "#aa0000"


def test_position_map_units() -> None:
    raw = "a👍\r\nb"
    pm = PositionMap(raw, Units("utf16", True))
    assert [pm.to_stored(i) for i in range(pm.total + 1)] == [0, 1, None, 2, None, 3, 4]
    pm = PositionMap(raw, Units("utf8", False))
    assert pm.total == 1 + 4 + 1 + 1
    assert pm.to_stored(5) == 2
    assert pm.to_stored(2) is None
