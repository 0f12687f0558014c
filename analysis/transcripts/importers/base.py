"""Shared pieces of the importers: the result type, the refusal, decoding and speaker turns."""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field

from analysis.transcripts.text import normalise_text


class ImportRefused(Exception):
    """A file that cannot be imported, with a message for the person who uploaded it."""


class Role:
    INTERVIEWER = "interviewer"
    PARTICIPANT = "participant"
    OTHER = "other"


@dataclass
class ParsedTurn:
    speaker: str
    role: str
    start: int  # code points into ParsedTranscript.text: the turn's words, without the speaker label
    end: int
    time_ms: int | None = None


@dataclass
class ParsedTranscript:
    text: str
    turns: list[ParsedTurn]
    format: str
    encoding: str = "utf-8"
    warnings: list[str] = field(default_factory=list)

    @property
    def speakers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for t in self.turns:
            if t.speaker:
                out.setdefault(t.speaker, t.role)
        return out


def parsed_dump(parsed: ParsedTranscript) -> bytes:
    """The parse result, compact (zlib-compressed JSON, ~1/3 of the text's size), so the import job reuses
    the preview's parse instead of parsing every file a second time."""
    doc = {"v": 1, "text": parsed.text, "format": parsed.format, "encoding": parsed.encoding,
           "warnings": parsed.warnings,
           "turns": [[t.speaker, t.role, t.start, t.end, t.time_ms] for t in parsed.turns]}
    return zlib.compress(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(), 1)


def parsed_load(blob: bytes | memoryview) -> ParsedTranscript:
    """The inverse of :func:`parsed_dump`; ValueError for anything else (the caller parses the file again)."""
    try:
        doc = json.loads(zlib.decompress(bytes(blob)))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("not a stored parse") from exc
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise ValueError("not a stored parse")
    return ParsedTranscript(
        text=doc["text"], format=doc["format"], encoding=doc["encoding"], warnings=list(doc["warnings"]),
        turns=[ParsedTurn(speaker=s, role=r, start=a, end=b, time_ms=t) for s, r, a, b, t in doc["turns"]],
    )


ENCODINGS = {
    "utf-8": "UTF-8",
    "cp1252": "Windows-1252 (Western European)",
    "latin-1": "ISO-8859-1 (Latin-1)",
    "utf-16": "UTF-16",
}

# Letters and punctuation that Western European Windows text plausibly contains. Anything else
# decoded from a legacy single-byte file (¤, ¦, Ð, þ...) suggests another code page: we ask.
_PLAUSIBLE_LEGACY = set("£€©®°±·½¼¾×÷‘’‚“”„–—…•™§¶") | {
    c for c in (chr(i) for i in range(0xC0, 0x100)) if c.isalpha() and c not in "ÐðÞþ"
}


def decode_bytes(data: bytes, *, encoding: str | None = None) -> tuple[str, str]:
    """Decode text bytes. Returns ``(text, encoding)``; raises :class:`ImportRefused` when the bytes
    are not text, or when the encoding cannot be told with confidence (the user is asked)."""
    if encoding and encoding not in ENCODINGS:
        raise ImportRefused(f"Unknown encoding “{encoding}”.")
    if data.startswith(b"\xef\xbb\xbf"):
        data, encoding = data[3:], encoding or "utf-8"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise ImportRefused("The file says it is UTF-16 but is not valid UTF-16.") from exc
    if encoding:
        codec = {"latin-1": "latin-1", "cp1252": "cp1252"}.get(encoding, encoding)
        try:
            return data.decode(codec), encoding
        except UnicodeDecodeError as exc:
            raise ImportRefused(f"The file is not valid {ENCODINGS[encoding]} text.") from exc
    if b"\x00" in data:
        raise ImportRefused(
            "This does not look like a text file (it contains binary data). "
            "Upload a .txt, .docx, .vtt or .srt transcript."
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8: a legacy single-byte file. cp1252 and Latin-1 agree except for 0x80–0x9F, where
    # Latin-1 has invisible control characters: those bytes mean cp1252 (curly quotes, dashes).
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ImportRefused(_ASK) from exc
    unusual = {c for c in text if ord(c) > 0x7F and c not in _PLAUSIBLE_LEGACY}
    if unusual or _looks_binary(text):
        raise ImportRefused(_ASK)
    return text, "cp1252"


_ASK = (
    "The file is not UTF-8 and its encoding could not be worked out with confidence, so it was not "
    "imported (to avoid garbled characters). Save it as UTF-8 (in Word: Save As → Plain Text → "
    "Unicode (UTF-8)), or upload it again and choose its encoding."
)


_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")  # below 32, not tab, newline, CR or form feed


def _looks_binary(text: str) -> bool:
    sample = text[:20000]
    if not sample:
        return False
    return len(_BINARY_CONTROL.findall(sample)) / len(sample) > 0.01


def check_not_binary(text: str) -> None:
    if _looks_binary(text):
        raise ImportRefused("This does not look like a text file (it contains binary data).")


# Speaker turns -------------------------------------------------------------------------------------

_LABEL = re.compile(r"^(?P<label>[^\W\d_][\w .'’()\-]{0,38}?|[A-Z]{1,3}\d{1,5}|\[[^\]\n]{1,40}\])\s*:\s+", re.UNICODE)
_INTERVIEWER = re.compile(
    r"^(?:(?:interviewer|facilitator|researcher|moderator|chair)\b.*|int|iv|i|q)$", re.IGNORECASE
)
_PARTICIPANT = re.compile(r"^(?:(?:participant|respondent|interviewee)\b.*|p|r|a|p\d+)$", re.IGNORECASE)


def speaker_role(label: str, pseudonym: str | None) -> str:
    clean = label.strip("[] ").strip()
    if pseudonym and clean.lower() == pseudonym.lower():
        return Role.PARTICIPANT
    if _INTERVIEWER.match(clean):
        return Role.INTERVIEWER
    if _PARTICIPANT.match(clean):
        return Role.PARTICIPANT
    return Role.OTHER


def split_label(line: str) -> tuple[str, str] | None:
    """``("Name", rest)`` if the line starts with a speaker label ``Name: ``."""
    m = _LABEL.match(line)
    if not m:
        return None
    label = m.group("label").strip()
    if len(label.split()) > 4:
        return None
    return label, line[m.end():]


@dataclass
class _Block:
    speaker: str
    body: str
    time_ms: int | None = None


def assemble(blocks: list[_Block], *, fmt: str, encoding: str, pseudonym: str | None,
             merge_same_speaker: bool = False, warnings: list[str] | None = None) -> ParsedTranscript:
    """Build the normalised text and turns from speaker blocks. Each turn is written as
    ``Speaker: words`` followed by a blank line; a turn's span covers only its words."""
    merged: list[_Block] = []
    for b in blocks:
        body = normalise_text(b.body)
        if not body:
            continue
        if merge_same_speaker and merged and b.speaker and merged[-1].speaker == b.speaker:
            merged[-1].body += " " + body
        else:
            merged.append(_Block(b.speaker, body, b.time_ms))
    parts: list[str] = []
    turns: list[ParsedTurn] = []
    length = 0
    for b in merged:
        if parts:
            parts.append("\n\n")
            length += 2
        label = f"{b.speaker}: " if b.speaker else ""
        parts.append(label + b.body)
        start = length + len(label)
        length += len(label) + len(b.body)
        turns.append(ParsedTurn(b.speaker, speaker_role(b.speaker, pseudonym) if b.speaker else Role.OTHER,
                                start, length, b.time_ms))
    text = "".join(parts)
    if not text.strip():
        raise ImportRefused("The file contains no transcript text.")
    return ParsedTranscript(text=text, turns=turns, format=fmt, encoding=encoding, warnings=warnings or [])


def turns_from_lines(text: str, *, fmt: str, encoding: str, pseudonym: str | None,
                     warnings: list[str] | None = None) -> ParsedTranscript:
    """Speaker turns of plain text that is already normalised: ``Name: text`` starts a turn, other
    lines continue it. The text is kept exactly as it is (offsets into it stay those of the file)."""
    if not text.strip():
        raise ImportRefused("The file is empty (it contains no text).")
    lines = text.split("\n")
    labels = [split_label(line) for line in lines]  # once: the regex was a third of an import's parsing
    candidates: dict[str, int] = {}
    for parsed in labels:
        if parsed:
            candidates[parsed[0]] = candidates.get(parsed[0], 0) + 1
    # A label counts as a speaker when it recurs, or names a known role: "Note: ..." once does not.
    speakers = {
        label for label, n in candidates.items()
        if n >= 2 or speaker_role(label, pseudonym) != Role.OTHER
    }
    turns: list[ParsedTurn] = []
    at = 0
    current: ParsedTurn | None = None
    for line, parsed in zip(lines, labels, strict=True):
        line_end = at + len(line)
        if parsed and parsed[0] in speakers:
            label, rest = parsed
            current = ParsedTurn(label, speaker_role(label, pseudonym), line_end - len(rest), line_end)
            turns.append(current)
        elif line.strip():
            if current is None:
                current = ParsedTurn("", Role.OTHER, at, line_end)
                turns.append(current)
            else:
                current.end = line_end
        at = line_end + 1
    # Drop empty turns ("Interviewer:" with nothing after it keeps no span).
    turns = [t for t in turns if t.end > t.start]
    return ParsedTranscript(text=text, turns=turns, format=fmt, encoding=encoding, warnings=warnings or [])
