"""WebVTT (.vtt) and SubRip (.srt) transcripts, as written by Teams, Zoom and transcription services.

Speakers come from VTT voice tags (``<v Name>``), or a ``Name:`` at the start of a cue; consecutive
cues by the same speaker merge into one turn, which keeps the time of its first cue."""

from __future__ import annotations

import html
import re

from analysis.transcripts.importers.base import ImportRefused, ParsedTranscript, _Block, assemble, split_label
from analysis.transcripts.text import normalise_text

_TIMING = re.compile(
    r"^\s*(?:(\d{1,3}):)?(\d{1,2}):(\d{2})[.,](\d{1,3})\s*-->\s*(?:\d{1,3}:)?\d{1,2}:\d{2}[.,]\d{1,3}"
)
_VOICE = re.compile(r"<v(?:\.[\w.\-]+)?\s+([^>]+)>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d{1,2}:\d{2}(?::\d{2})?\.\d{3}>")
_BRACKET_SPEAKER = re.compile(r"^\[([^\]\n]{1,40})\]\s*")


def _time_ms(m: re.Match[str]) -> int:
    h, mnt, s, frac = m.group(1) or "0", m.group(2), m.group(3), m.group(4)
    return ((int(h) * 60 + int(mnt)) * 60 + int(s)) * 1000 + int(frac.ljust(3, "0"))


def _cue_blocks(text: str, *, vtt: bool) -> list[_Block]:
    blocks: list[_Block] = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [ln for ln in chunk.split("\n") if ln.strip()]
        timing_at = next((i for i, ln in enumerate(lines) if _TIMING.match(ln)), None)
        if timing_at is None:
            continue  # the WEBVTT header, NOTE, STYLE and REGION blocks, stray text
        timing = _TIMING.match(lines[timing_at])
        assert timing is not None
        payload = "\n".join(lines[timing_at + 1:])
        speaker = ""
        voice = _VOICE.search(payload)
        if voice:
            speaker = voice.group(1).strip()
        payload = html.unescape(_TAG.sub("", payload)).replace("\xa0", " ")
        payload = " ".join(ln.strip() for ln in payload.split("\n") if ln.strip())
        if not speaker:
            labelled = split_label(payload)
            bracket = _BRACKET_SPEAKER.match(payload)
            if labelled:
                speaker, payload = labelled
            elif bracket and not vtt:
                speaker, payload = bracket.group(1).strip(), payload[bracket.end():]
        if payload.strip():
            blocks.append(_Block(speaker, payload, _time_ms(timing)))
    return blocks


def parse_vtt(text: str, *, encoding: str, pseudonym: str | None) -> ParsedTranscript:
    text = normalise_text(text)
    if not text.lstrip().startswith("WEBVTT"):
        raise ImportRefused("This is not a WebVTT file (it must start with “WEBVTT”).")
    blocks = _cue_blocks(text, vtt=True)
    if not blocks:
        raise ImportRefused("The subtitle file contains no cues with text.")
    return assemble(blocks, fmt="vtt", encoding=encoding, pseudonym=pseudonym, merge_same_speaker=True)


def parse_srt(text: str, *, encoding: str, pseudonym: str | None) -> ParsedTranscript:
    text = normalise_text(text)
    blocks = _cue_blocks(text, vtt=False)
    if not blocks:
        raise ImportRefused("The subtitle file contains no cues with text (expected SRT timecodes).")
    return assemble(blocks, fmt="srt", encoding=encoding, pseudonym=pseudonym, merge_same_speaker=True)


def looks_like_srt(text: str) -> bool:
    head = text.lstrip()[:500].split("\n")
    return len(head) >= 2 and head[0].strip().isdigit() and bool(_TIMING.match(head[1]))
