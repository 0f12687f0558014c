"""Importers on real-shaped files, and bad input refused with a message."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from analysis.transcripts.importers import ImportRefused, parse_transcript

VTT_VOICES = """WEBVTT

NOTE made by Teams

00:00:01.000 --> 00:00:04.000
<v Interviewer>How did the appointments happen?</v>

00:00:04.500 --> 00:00:09.000
<v SU01>Mostly by phone, which was fine.</v>

00:00:09.000 --> 00:00:12.000
<v SU01>Video felt strange at first.</v>
"""

VTT_CUE_SPEAKERS = """WEBVTT

1
00:00:01.000 --> 00:00:04.000
Facilitator: Tell me about video &amp; phone.

2
00:00:04.500 --> 00:00:09.000
SU01: I preferred the telephone.
"""

SRT = """1
00:00:01,000 --> 00:00:04,000
Interviewer: What was difficult?

2
00:00:04,500 --> 00:00:09,000
ST02: <i>We had no training</i>
at all.

3
00:01:10,000 --> 00:01:12,000
ST02: None.
"""


def test_plain_text_turns_and_roles() -> None:
    text = "Interview SU01, video\n\nInterviewer: Hello?\nSU01: Hi there.\nSecond paragraph.\n\nMum: I was there too.\nMum: Yes.\n"
    p = parse_transcript(text.encode(), pseudonym="SU01")
    speakers = [(t.speaker, t.role) for t in p.turns]
    assert speakers == [("", "other"), ("Interviewer", "interviewer"), ("SU01", "participant"),
                        ("Mum", "other"), ("Mum", "other")]
    su = p.turns[2]
    assert p.text[su.start:su.end] == "Hi there.\nSecond paragraph."


def test_a_label_used_once_is_not_a_speaker() -> None:
    p = parse_transcript(b"Interviewer: Hi.\nSU01: I said: no way.\nNote: this is one line.\n", pseudonym="SU01")
    assert [t.speaker for t in p.turns] == ["Interviewer", "SU01"]


def test_crlf_bom_and_nfc() -> None:
    raw = "\ufeffInterviewer: Cafe\u0301?\r\nSU01: Yes.\r\n".encode()
    p = parse_transcript(raw, pseudonym="SU01")
    assert p.text == "Interviewer: Café?\nSU01: Yes."
    assert "\r" not in p.text
    assert p.encoding == "utf-8"


def test_utf16_with_bom() -> None:
    p = parse_transcript("Interviewer: Zoë?\nSU01: 👍".encode("utf-16"), pseudonym="SU01")
    assert p.text.endswith("👍")
    assert p.encoding == "utf-16"


def test_windows_1252_detected_and_reported() -> None:
    raw = "Interviewer: It was the “new normal”, wasn’t it?\nSU01: Café.".encode("cp1252")
    p = parse_transcript(raw, pseudonym="SU01")
    assert "“new normal”" in p.text
    assert p.encoding == "cp1252"
    assert any("not UTF-8" in w for w in p.warnings)


def test_ambiguous_legacy_encoding_is_refused_with_a_question() -> None:
    raw = "Interviewer: Dzień dobry, proszę.\nSU01: Łódź.".encode("cp1250")
    with pytest.raises(ImportRefused, match="encoding"):
        parse_transcript(raw)
    # ...and the user's choice is honoured.
    p = parse_transcript("Interviewer: Ðe þing\nSU01: ok".encode("latin-1"), encoding="latin-1")
    assert "Ðe þing" in p.text


def test_vtt_voice_tags_merge_consecutive_cues() -> None:
    p = parse_transcript(VTT_VOICES.encode(), pseudonym="SU01")
    assert p.format == "vtt"
    assert [(t.speaker, t.role, t.time_ms) for t in p.turns] == [
        ("Interviewer", "interviewer", 1000), ("SU01", "participant", 4500)]
    t = p.turns[1]
    assert p.text[t.start:t.end] == "Mostly by phone, which was fine. Video felt strange at first."


def test_vtt_cue_speakers_without_voice_tags() -> None:
    p = parse_transcript(VTT_CUE_SPEAKERS.encode(), pseudonym="SU01")
    assert [(t.speaker, t.role) for t in p.turns] == [("Facilitator", "interviewer"), ("SU01", "participant")]
    assert "video & phone" in p.text


def test_srt_with_timecodes_and_tags() -> None:
    p = parse_transcript(SRT.encode(), pseudonym="ST02")
    assert p.format == "srt"
    assert [(t.speaker, t.time_ms) for t in p.turns] == [("Interviewer", 1000), ("ST02", 4500)]
    assert p.text.split("\n\n")[1] == "ST02: We had no training at all. None."


def test_docx_from_python_docx() -> None:
    docx = pytest.importorskip("docx")
    d = docx.Document()
    d.add_paragraph("Interview SU01")
    d.add_paragraph("Interviewer: How was it?")
    d.add_paragraph("SU01: Hard, to be honest 👍.")
    buf = io.BytesIO()
    d.save(buf)
    p = parse_transcript(buf.getvalue(), filename="SU01.docx", pseudonym="SU01")
    assert p.format == "docx"
    assert [t.speaker for t in p.turns] == ["", "Interviewer", "SU01"]
    assert p.text.endswith("Hard, to be honest 👍.")


def test_generator_files_all_formats(tmp_path: Path, shared_dir: Path) -> None:
    subprocess.run([sys.executable, str(shared_dir / "tools" / "make_study.py"), str(tmp_path), "--participants", "4",
                    "--chars", "1500"], check=True, capture_output=True)
    files = sorted((tmp_path / "transcripts").iterdir())
    assert {f.suffix for f in files} == {".txt", ".docx", ".vtt"}
    for f in files:
        p = parse_transcript(f.read_bytes(), filename=f.name, pseudonym=f.stem)
        roles = {t.role for t in p.turns}
        assert {"interviewer", "participant"} <= roles, f.name
        for t in p.turns:
            assert p.text[t.start:t.end] == p.text[t.start:t.end].strip()


def test_docx_content_not_extension() -> None:
    docx = pytest.importorskip("docx")
    d = docx.Document()
    d.add_paragraph("Interviewer: Hello.")
    buf = io.BytesIO()
    d.save(buf)
    assert parse_transcript(buf.getvalue(), filename="SU01.txt").format == "docx"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"   \n\r\n  ", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
    (b"%PDF-1.7\n...", "PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20, ".doc"),
    (b"WEBVTT\n\nNOTE nothing here\n", "no cues"),
])
def test_bad_input_refused(data: bytes, message: str) -> None:
    with pytest.raises(ImportRefused, match=message):
        parse_transcript(data, filename="SU01.txt")


def test_invalid_utf8_with_control_bytes_refused() -> None:
    with pytest.raises(ImportRefused):
        parse_transcript(bytes(range(1, 255)) * 10, filename="SU01.txt")


def _docx_bytes(document_xml: str, extra: dict[str, bytes] | None = None, compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", document_xml)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def test_docx_with_external_entity_refused() -> None:
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           f'<w:document {W}><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>')
    with pytest.raises(ImportRefused, match="entity or DTD"):
        parse_transcript(_docx_bytes(xml))


def test_docx_billion_laughs_refused() -> None:
    xml = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
           f'<w:document {W}><w:body><w:p><w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>')
    with pytest.raises(ImportRefused, match="entity or DTD"):
        parse_transcript(_docx_bytes(xml))


def test_docx_zip_bomb_refused(settings: object) -> None:
    # 60 MB of zeros compresses to ~60 KB: refused from the zip directory, before decompressing.
    body = f'<w:document {W}><w:body><w:p><w:r><w:t>x</w:t></w:r></w:p></w:body></w:document>'
    data = _docx_bytes(body, extra={"word/media/bomb.bin": b"\0" * 60_000_000})
    assert len(data) < 200_000
    with pytest.raises(ImportRefused, match=r"zip bomb|too large"):
        parse_transcript(data)


def test_damaged_docx_refused() -> None:
    data = _docx_bytes(f"<w:document {W}><w:body><w:p>")
    with pytest.raises(ImportRefused, match="damaged"):
        parse_transcript(data)


def test_file_over_the_limit_refused_before_parsing(settings: object) -> None:
    settings.CHORUS_MAX_UPLOAD_BYTES = 1000  # type: ignore[attr-defined]
    with pytest.raises(ImportRefused, match="too large"):
        parse_transcript(b"Interviewer: x\n" * 200)
