"""REFI-QDA codebook (.qdc) import and export.

Export writes ``urn:QDA-XML:codebook:1.0`` and validates against the official schema
(``coding/schemas/Codebook-mrt2019.xsd``, a copy of ``../shared/refi-qda/``; MIT licence kept).
REFI-QDA has one ``Description`` per code, so the definition and the inclusion criteria, exclusion
criteria and example travel in it as labelled paragraphs, which the importer reads back::

    Definition text.

    Inclusion criteria: …

    Exclusion criteria: …

    Example: …

Import accepts what real tools write (see ``../shared/refi-qda/NOTES.md``): any ``urn:QDA-XML``
namespace version (``codebook:1.0``, ``codebook:1:0`` from NVivo for Mac, ``0:4``…) or none,
a ``CodeBook`` root or a whole project (``.qde``) with a ``CodeBook`` inside, nested ``Code``
elements and flat ``A::B`` names (ATLAS.ti 8), codes without a colour (they get one from the
palette) and ``isCodable`` missing or spelt ``1``/``0``. Parsing is defensive: size-limited before
parsing, no DTD (a file with one is refused, so no entity expansion and no external entities),
no network access, no processing instructions.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lxml import etree

from analysis.coding.models import Code
from analysis.coding.selectors.codebook import CodeNode
from analysis.coding.services.codebook_import import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_CODES,
    ImportFileError,
    ImportItem,
    ParsedFile,
    item_from_path,
)
from config.input_guard import format_bytes
from jobs.xlsx import xml_clean

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "Codebook-mrt2019.xsd"
_SECTIONS = (("inclusion_criteria", "Inclusion criteria:"), ("exclusion_criteria", "Exclusion criteria:"),
             ("example", "Example:"))
_SECTION_RE = re.compile(r"^(Inclusion criteria:|Exclusion criteria:|Example:)[ \t]*", re.MULTILINE)
_DOCTYPE_RE = re.compile(rb"<!\s*DOCTYPE|<!\s*ENTITY", re.IGNORECASE)


class ExportInvalidError(RuntimeError):
    """The export does not validate against the REFI-QDA schema (a bug, never user input)."""


# Descriptions ------------------------------------------------------------------------------------


def description_compose(code: Code) -> str:
    parts = [code.description.strip()] if code.description.strip() else []
    for attr, label in _SECTIONS:
        value = getattr(code, attr).strip()
        if value:
            parts.append(f"{label} {value}")
    return "\n\n".join(parts)


def description_parse(text: str) -> dict[str, str]:
    """The labelled paragraphs of a Description, back into fields (absent ones are empty)."""
    out = {"description": "", "inclusion_criteria": "", "exclusion_criteria": "", "example": ""}
    pieces = _SECTION_RE.split(text or "")
    out["description"] = pieces[0].strip()
    labels = {label: attr for attr, label in _SECTIONS}
    for i in range(1, len(pieces) - 1, 2):
        attr = labels[pieces[i]]
        out[attr] = (out[attr] + "\n\n" + pieces[i + 1].strip()).strip()
    return out


# Import ------------------------------------------------------------------------------------------


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    return None


def _xml_problem(exc: etree.XMLSyntaxError) -> str:
    """libxml2's messages ("Excessive depth in document: 256, use XML_PARSE_HUGE option") in words a person
    can act on; they were written for programmers who can change the parser's options."""
    msg, line = str(exc.msg or ""), exc.lineno
    if "Excessive depth" in msg:
        return (f"The file nests its elements more than 256 levels deep (line {line}); no codebook needs that. "
                "Check that this is a .qdc codebook exported by a QDA program.")
    if "xmlParseCharRef" in msg or "invalid xmlChar" in msg or "PCDATA invalid Char" in msg:
        return (f"Line {line} holds a character that XML does not allow (such as a NUL, written &#0;). Remove it "
                "in a text editor, or export the codebook again.")
    if "huge" in msg.lower() or "too large" in msg.lower():
        return f"Line {line} holds a value too large to read. Check that this is a .qdc codebook."
    return (f"The file is not well-formed XML: the problem is at line {line}. Export the codebook again from your "
            "QDA program, or open the file in a text editor to fix that line.")


def qdc_parse(data: bytes, *, filename: str = "codebook.qdc") -> ParsedFile:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"The file is larger than {format_bytes(MAX_IMPORT_BYTES)}.")
    if not data.strip():
        raise ImportFileError("The file is empty.")
    if _DOCTYPE_RE.search(data[:65536]):
        raise ImportFileError("The file contains a DTD (<!DOCTYPE> or <!ENTITY>), which Chorus does not accept.")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_pis=True, remove_comments=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ImportFileError(_xml_problem(exc)) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # e.g. a UTF-16 file the byte check missed
        raise ImportFileError("The file contains a DTD (<!DOCTYPE> or <!ENTITY>), which Chorus does not accept.")
    namespace = etree.QName(root).namespace or ""
    if namespace and not namespace.startswith("urn:QDA-XML:"):
        raise ImportFileError(f"The file's namespace “{namespace[:100]}” is not REFI-QDA.")
    book = root if _local(root) == "CodeBook" else next((e for e in root if _local(e) == "CodeBook"), None)
    codes = next((e for e in book if _local(e) == "Codes"), None) if book is not None else None
    if codes is None:
        raise ImportFileError("This is not a REFI-QDA codebook: no CodeBook with Codes in it.")
    items: list[ImportItem] = []
    warnings: list[str] = []

    def walk(container: etree._Element, parent_path: list[str]) -> None:
        for el in container:
            if _local(el) != "Code":
                continue
            if len(items) >= MAX_IMPORT_CODES:
                raise ImportFileError(f"The file has more than {MAX_IMPORT_CODES} codes.")
            name = el.get("name") or ""
            fields: dict[str, object] = {"is_codable": _bool(el.get("isCodable"))}
            desc_el = next((d for d in el if _local(d) == "Description"), None)
            if desc_el is not None:
                fields.update(description_parse("".join(desc_el.itertext())))
            colour = el.get("color")
            line = el.sourceline or 0
            if colour:
                fields["colour"] = colour
            item = item_from_path([*parent_path, name], row=line, guid=el.get("guid"), fields=fields)
            if colour and item.colour is None:
                # Real files carry odd colours; do not reject a whole codebook over one.
                item.errors = [e for e in item.errors if "not a colour" not in e]
                warnings.append(f"Line {line}: colour “{colour[:20]}” is not a hex colour; a palette colour is used.")
            items.append(item)
            if not item.errors:
                walk(el, item.path)

    walk(codes, [])
    if not items:
        raise ImportFileError("The codebook has no codes.")
    return ParsedFile(kind="qdc", filename=filename, items=items, warnings=warnings)


# Export ------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser))


def qdc_validate(data: bytes) -> list[str]:
    """Schema errors of a codebook document (empty when valid)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    schema = _schema()
    ok = schema.validate(etree.fromstring(data, parser))
    return [] if ok else [f"line {e.line}: {e.message}" for e in schema.error_log]


def qdc_export(roots: list[CodeNode], *, origin: str = "Chorus") -> bytes:
    def q(tag: str) -> str:
        return f"{{{CODEBOOK_NS}}}{tag}"

    book = etree.Element(q("CodeBook"), nsmap={None: CODEBOOK_NS}, origin=origin)
    codes = etree.SubElement(book, q("Codes"))

    def add(container: etree._Element, node: CodeNode) -> None:
        c = node.code
        el = etree.SubElement(container, q("Code"), guid=str(c.guid).upper(), name=xml_clean(c.name),
                              isCodable="true" if c.is_codable else "false", color=c.colour.upper())
        text = description_compose(c)
        if text:
            etree.SubElement(el, q("Description")).text = xml_clean(text)
        for child in node.children:
            add(el, child)

    for node in roots:
        add(codes, node)
    data: bytes = etree.tostring(book, xml_declaration=True, encoding="utf-8", pretty_print=True)
    errors = qdc_validate(data)
    if errors:
        raise ExportInvalidError("; ".join(errors[:5]))
    return data
