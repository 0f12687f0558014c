"""Word (.docx) transcripts: paragraphs of word/document.xml, read with a hardened XML parser
(no DTDs, no entities, no external references) after the zip has passed the bomb checks."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from analysis.transcripts.importers.base import ImportRefused, ParsedTranscript, turns_from_lines
from analysis.transcripts.importers.safezip import ZipLimits, open_zip, read_member
from analysis.transcripts.text import normalise_text

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _paragraph_text(p: Element) -> str:
    out: list[str] = []
    for el in p.iter():
        tag = el.tag
        if tag == f"{W}t" and el.text:
            out.append(el.text)
        elif tag == f"{W}tab":
            out.append("\t")
        elif tag in (f"{W}br", f"{W}cr"):
            out.append("\n")
        elif tag == f"{W}noBreakHyphen":
            out.append("-")
    return "".join(out)


def parse_docx(data: bytes, *, pseudonym: str | None, limits: ZipLimits) -> ParsedTranscript:
    zf = open_zip(data, what="Word file", limits=limits)
    xml = read_member(zf, "word/document.xml", what="Word file", limits=limits)
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ImportRefused(
            "The Word file contains XML entity or DTD declarations, which are refused for safety."
        ) from exc
    except ParseError as exc:
        raise ImportRefused("The Word file is damaged (its text cannot be read).") from exc
    body = root.find(f"{W}body")
    if body is None:
        raise ImportRefused("The Word file has no document body.")
    paragraphs = [_paragraph_text(p) for p in body.iter(f"{W}p")]
    text = normalise_text("\n".join(paragraphs))
    if not text.strip():
        raise ImportRefused("The Word file contains no text.")
    return turns_from_lines(text, fmt="docx", encoding="utf-8", pseudonym=pseudonym)
