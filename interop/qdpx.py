"""Reading a REFI-QDA project (``.qdpx``) without trusting it. No Django models: the result is a
:class:`ParsedProject` that the import services plan against a study.

The archive is checked from its directory before anything is unpacked (``safezip``: paths, sizes,
ratios, nesting; every read capped whatever the headers claim). ``project.qde`` is parsed with lxml
incrementally (``iterparse``, elements freed as they are read) with no network, no DTD and no
entities (a document that declares one is refused), comments and processing instructions dropped, and
a nesting limit. What real tools write differently from the standard is accepted (NOTES.md): any
``*.qde`` at the root, ``sources/`` in any case, ``plainTextPath`` with or without ``internal://``,
namespace versions, nested or ``A::B`` code names. Every problem names the element and its line.

Problems come in two kinds. *Errors* (a reference to an unknown GUID, a duplicate GUID, a selection
beyond its text or ending before it starts, a missing source file, an unsafe path) mean the file is
not a consistent project: nothing is imported. *Unplaced selections* (a position inside a character,
quoted text that differs) are reported with their text and left out; the rest imports.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from analysis.transcripts.importers.base import ImportRefused
from analysis.transcripts.importers.safezip import ZipLimits, is_zip, open_zip, read_member
from interop.positions import PositionMap, choose_units, place, stored_text

MAX_DEPTH = 64  # element nesting; codes nest deepest, and 20 levels is already unusual
MAX_CODE_DEPTH = 20
MAX_POSITION = 2**31 - 1
MAX_ELEMENTS = 5_000_000
MAX_NAME = 200
ZIP_LIMITS = ZipLimits(total_bytes=1536 * 1024 * 1024, member_bytes=512 * 1024 * 1024)
_DOCTYPE_RE = re.compile(rb"<!\s*DOCTYPE|<!\s*ENTITY", re.IGNORECASE)
_GUID_RE = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


class ProjectRefused(Exception):
    """The file cannot be read as a project; the message says why and where."""


@dataclass(slots=True)
class PUser:
    guid: str
    name: str
    line: int = 0


@dataclass(slots=True)
class PCode:
    guid: str
    name: str
    path: list[str]
    parent_guid: str | None
    colour: str | None
    description: str
    is_codable: bool
    line: int
    note_guids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PVariable:
    guid: str
    name: str
    kind: str  # typeOfVariable
    line: int


@dataclass(slots=True)
class PCase:
    guid: str
    name: str
    values: dict[str, str]  # variable guid -> value as text
    source_guids: list[str]
    line: int


@dataclass(slots=True)
class PSelection:
    guid: str
    start: int
    end: int
    user_guid: str | None
    hint: str | None  # the quoted text some tools put in ``name``
    code_refs: list[tuple[str, str | None, int]]  # (code guid, user guid, line)
    note_guids: list[str]
    description: str
    line: int
    # Filled by placement: code points of the stored text.
    s: int | None = None
    e: int | None = None
    problem: str = ""


@dataclass(slots=True)
class PSource:
    guid: str
    name: str
    path: str | None
    inline: str | None
    user_guid: str | None
    selections: list[PSelection]
    note_guids: list[str]
    values: dict[str, str]
    line: int
    text: str = ""  # the stored text (BOM removed, line ends \n)
    raw_bytes: int = 0
    conversions: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PNote:
    guid: str
    name: str
    text: str
    user_guid: str | None
    line: int


@dataclass(slots=True)
class PSet:
    guid: str
    name: str
    source_guids: list[str]
    line: int


@dataclass(slots=True)
class ParsedProject:
    name: str = ""
    origin: str = ""
    users: dict[str, PUser] = field(default_factory=dict)
    codes: list[PCode] = field(default_factory=list)
    variables: dict[str, PVariable] = field(default_factory=dict)
    cases: list[PCase] = field(default_factory=list)
    sources: list[PSource] = field(default_factory=list)
    notes: dict[str, PNote] = field(default_factory=dict)
    sets: list[PSet] = field(default_factory=list)
    project_note_guids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped_sources: int = 0

    @property
    def selection_count(self) -> int:
        return sum(len(s.selections) for s in self.sources)


def _local(tag: Any) -> str:
    # A string split, not etree.QName: this runs for every element of a large project.
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _guid(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip()
    return v.strip("{}").lower() if _GUID_RE.match(v) else None


def _clip(text: str | None, limit: int = MAX_NAME) -> str:
    return (text or "").strip()[:limit]


def _bool(value: str | None, default: bool) -> bool:
    v = (value or "").strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    return default


def _text_of(el: etree._Element, name: str) -> str:
    child = next((c for c in el if _local(c.tag) == name), None)
    return "".join(child.itertext()) if child is not None else ""


def _refs(el: etree._Element, name: str) -> list[str]:
    return [c.get("targetGUID") or "" for c in el if _local(c.tag) == name]


class _Reader:
    def __init__(self, project: ParsedProject) -> None:
        self.p = project
        # Compact records, turned into messages only for a problem: a large project has hundreds of
        # thousands of selections, and a string per GUID or reference was most of the parser's memory.
        self.seen: dict[str, tuple[str, str | None, int]] = {}  # guid -> (element, its name, line)
        self.refs: list[tuple[str, str, str, int]] = []  # (kind, guid, element, line), checked at the end
        self.codes_known: set[str] | None = None  # once the codebook is read, code references check at once

    @staticmethod
    def describe(tag: str, name: str | None, line: int) -> str:
        shown = f" “{_clip(name, 60)}”" if name else ""
        return f"{tag}{shown} (line {line})"

    def where(self, el: etree._Element, label: str | None = None) -> str:
        return self.describe(_local(el.tag), label if label is not None else el.get("name"), el.sourceline or 0)

    def guid(self, el: etree._Element, label: str | None = None) -> str:
        raw = el.get("guid")
        g = _guid(raw)
        if g is None:
            self.p.errors.append(f"{self.where(el, label)}: its guid “{_clip(raw, 60)}” is missing or not a GUID.")
            return f"invalid-{len(self.p.errors)}"
        if g in self.seen:
            self.p.errors.append(f"{self.where(el, label)}: duplicate GUID {raw} "
                                 f"(also used by {self.describe(*self.seen[g])}).")
        else:
            tag = _local(el.tag)
            # A selection's name is quoted text (ATLAS.ti): not worth keeping for a message.
            name = None if tag == "PlainTextSelection" else _clip(label if label is not None else el.get("name"), 60)
            self.seen[g] = (tag, name or None, el.sourceline or 0)
        return g

    def ref(self, kind: str, raw: str | None, el: etree._Element) -> str:
        g = _guid(raw)
        if g is None:
            self.p.errors.append(f"{self.where(el)}: reference “{_clip(raw, 60)}” is not a GUID.")
            return ""
        if kind == "code" and self.codes_known is not None:
            if g not in self.codes_known:
                self.p.errors.append(f"{self.where(el)}: refers to code {g}, which the project does not contain.")
        else:
            self.refs.append((kind, g, _local(el.tag), el.sourceline or 0))
        return g

    def user_ref(self, raw: str | None) -> str | None:
        g = _guid(raw)
        if g is None:
            return None
        if g not in self.p.users:  # a user the file forgot to list: still someone to map
            self.p.users[g] = PUser(g, f"Unnamed user {len(self.p.users) + 1}")
        return g

    def position(self, el: etree._Element, attr: str) -> int | None:
        raw = el.get(attr)
        try:
            value = int((raw or "").strip())
        except ValueError:
            self.p.errors.append(f"{self.where(el)}: {attr} “{_clip(raw, 30)}” is not a whole number.")
            return None
        if not 0 <= value <= MAX_POSITION:
            self.p.errors.append(f"{self.where(el)}: {attr} {_clip(raw, 30)} is not a position in a text.")
            return None
        return value

    # Elements ------------------------------------------------------------------------------------

    def users(self, el: etree._Element) -> None:
        for u in el:
            if _local(u.tag) == "User":
                g = self.guid(u)
                self.p.users[g] = PUser(g, _clip(u.get("name") or u.get("id")) or f"Unnamed user {len(self.p.users) + 1}",
                                        u.sourceline or 0)

    def codebook(self, el: etree._Element) -> None:
        codes = next((c for c in el if _local(c.tag) == "Codes"), None)
        if codes is None:
            return
        flat_names = False

        def walk(container: etree._Element, parent: PCode | None, depth: int) -> None:
            nonlocal flat_names
            for c in container:
                if _local(c.tag) != "Code":
                    continue
                g = self.guid(c)
                name = (c.get("name") or "").strip()
                if not name:
                    self.p.errors.append(f"{self.where(c)}: a code without a name.")
                    name = "Unnamed code"
                if "\x00" in name or len(name) > MAX_NAME:
                    self.p.errors.append(f"{self.where(c)}: the code name is too long or contains a NUL character.")
                    name = name.replace("\x00", "")[:MAX_NAME]
                if depth > MAX_CODE_DEPTH:
                    self.p.errors.append(f"{self.where(c)}: codes nest more than {MAX_CODE_DEPTH} levels deep.")
                    return
                colour = c.get("color")
                if colour and not _HEX.match(colour.strip()):
                    self.p.warnings.append(f"{self.where(c)}: colour “{_clip(colour, 20)}” is not a hex colour; "
                                           "a palette colour is used.")
                    colour = None
                description = _text_of(c, "Description")
                if "\x00" in description:
                    self.p.errors.append(f"{self.where(c)}: the description contains a NUL character.")
                path = [*(parent.path if parent else []), name]
                if parent is None and "::" in name:
                    flat_names = True
                code = PCode(g, name, path, parent.guid if parent else None, colour.strip().lower() if colour else None,
                             description.strip(), _bool(c.get("isCodable"), True), c.sourceline or 0,
                             [self.ref("note", r, c) for r in _refs(c, "NoteRef")])
                self.p.codes.append(code)
                walk(c, code, depth + 1)

        walk(codes, None, 1)
        if flat_names:
            self._split_flat_names()
        self.codes_known = {c.guid for c in self.p.codes}

    def _split_flat_names(self) -> None:
        """ATLAS.ti 8 writes the hierarchy as ``Parent::Child`` names: the last part is the code's
        name, and a parent named only in a path is kept as a path (created as a grouping code)."""
        for code in self.p.codes:
            if code.parent_guid is None and "::" in code.name:
                parts = [s.strip() for s in code.name.split("::") if s.strip()]
                code.path = parts or [code.name]
                code.name = code.path[-1]
        self.p.warnings.append("Code names written as “Parent::Child” were read as a hierarchy.")

    def variables(self, el: etree._Element) -> None:
        for v in el:
            if _local(v.tag) == "Variable":
                g = self.guid(v)
                self.p.variables[g] = PVariable(g, _clip(v.get("name")) or "Unnamed variable",
                                                v.get("typeOfVariable") or "Text", v.sourceline or 0)

    def values(self, el: etree._Element) -> dict[str, str]:
        out: dict[str, str] = {}
        for vv in el:
            if _local(vv.tag) != "VariableValue":
                continue
            ref = next((c for c in vv if _local(c.tag) == "VariableRef"), None)
            if ref is None:
                self.p.errors.append(f"{self.where(vv)}: a value without a VariableRef.")
                continue
            g = self.ref("variable", ref.get("targetGUID"), ref)
            value = next((c for c in vv if _local(c.tag) != "VariableRef"), None)
            text = "".join(value.itertext()).strip() if value is not None else ""
            if "\x00" in text or len(text) > 500:
                self.p.errors.append(f"{self.where(vv)}: the value is longer than 500 characters or contains a NUL.")
                continue
            if g:
                out[g] = text
        return out

    def cases(self, el: etree._Element) -> None:
        for c in el:
            if _local(c.tag) != "Case":
                continue
            g = self.guid(c)
            self.p.cases.append(PCase(
                g, _clip(c.get("name")) or "", self.values(c),
                [self.ref("source", r, c) for r in _refs(c, "SourceRef")], c.sourceline or 0,
            ))

    def selection(self, el: etree._Element) -> PSelection | None:
        g = self.guid(el)
        start, end = self.position(el, "startPosition"), self.position(el, "endPosition")
        if start is None or end is None:
            return None
        if end < start:
            self.p.errors.append(f"{self.where(el)}: it ends ({end}) before it starts ({start}).")
            return None
        code_refs: list[tuple[str, str | None, int]] = []
        for coding in el:
            if _local(coding.tag) != "Coding":
                continue
            user = self.user_ref(coding.get("creatingUser")) or self.user_ref(el.get("creatingUser"))
            for ref in coding:
                if _local(ref.tag) == "CodeRef":
                    code_refs.append((self.ref("code", ref.get("targetGUID"), ref), user, ref.sourceline or 0))
        description = _text_of(el, "Description").strip()
        return PSelection(
            g, start, end, self.user_ref(el.get("creatingUser")), el.get("name"), code_refs,
            [self.ref("note", r, el) for r in _refs(el, "NoteRef")], description, el.sourceline or 0,
        )

    def text_source(self, el: etree._Element) -> None:
        g = self.guid(el)
        selections = []
        for s in el:
            if _local(s.tag) == "PlainTextSelection":
                sel = self.selection(s)
                if sel is not None:
                    selections.append(sel)
        inline = next((c for c in el if _local(c.tag) == "PlainTextContent"), None)
        self.p.sources.append(PSource(
            g, _clip(el.get("name")) or "", el.get("plainTextPath"),
            "".join(inline.itertext()) if inline is not None else None, self.user_ref(el.get("creatingUser")),
            selections, [self.ref("note", r, el) for r in _refs(el, "NoteRef")], self.values(el),
            el.sourceline or 0,
        ))

    def notes(self, el: etree._Element) -> None:
        for n in el:
            if _local(n.tag) != "Note":
                continue
            g = self.guid(n)
            text = _text_of(n, "PlainTextContent") or _text_of(n, "Description")
            if "\x00" in text:
                self.p.errors.append(f"{self.where(n)}: the note contains a NUL character.")
            self.p.notes[g] = PNote(g, _clip(n.get("name")) or "Note", text.strip(),
                                    self.user_ref(n.get("creatingUser")), n.sourceline or 0)

    def sets(self, el: etree._Element) -> None:
        for s in el:
            if _local(s.tag) == "Set":
                g = self.guid(s)
                self.p.sets.append(PSet(g, _clip(s.get("name")) or "Set",
                                        [self.ref("source", r, s) for r in _refs(s, "MemberSource")], s.sourceline or 0))

    def check_refs(self) -> None:
        known = {
            "code": {c.guid for c in self.p.codes},
            "source": {s.guid for s in self.p.sources},
            "variable": set(self.p.variables),
            "note": set(self.p.notes),
        }
        for kind, g, tag, line in self.refs:
            if g and g not in known[kind]:
                self.p.errors.append(f"{self.describe(tag, None, line)}: refers to {kind} {g}, "
                                     "which the project does not contain.")


class _Capped(io.RawIOBase):
    """A zip member read as a stream, refused past ``limit`` bytes whatever its header claimed."""

    def __init__(self, stream: Any, limit: int, name: str) -> None:
        self.stream, self.limit, self.name, self.count = stream, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise ProjectRefused(f"The project looks like a zip bomb ({self.name} unpacks to too much).")
        buffer[:len(data)] = data
        return len(data)


def parse_qde(data: bytes | Any) -> ParsedProject:
    """The project document, read incrementally. Raises :class:`ProjectRefused` when it is not XML,
    declares a DTD, nests too deeply or is not a REFI-QDA project; collects other problems in
    ``errors`` and ``warnings``."""
    if isinstance(data, bytes):
        data = io.BufferedReader(_Capped(io.BytesIO(data), len(data), "project.qde"))
    head = data.peek(131072)[:131072]
    if _DOCTYPE_RE.search(head[:65536]) or (head[:2] in (b"\xff\xfe", b"\xfe\xff")
                                            and _DOCTYPE_RE.search(head.decode("utf-16", "ignore").encode())):
        raise ProjectRefused("project.qde contains a DTD (<!DOCTYPE> or <!ENTITY>), which Chorus does not accept.")
    project = ParsedProject()
    reader = _Reader(project)
    depth = 0
    count = 0
    handlers = {"Users": reader.users, "CodeBook": reader.codebook, "Variables": reader.variables,
                "Cases": reader.cases, "Notes": reader.notes, "Sets": reader.sets}
    root: etree._Element | None = None
    try:
        events = etree.iterparse(
            data, events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False,
            dtd_validation=False, huge_tree=False, remove_comments=True, remove_pis=True,
        )
        for event, el in events:
            if event == "start":
                depth += 1
                count += 1
                if depth > MAX_DEPTH:
                    raise ProjectRefused(f"project.qde nests elements more than {MAX_DEPTH} deep "
                                         f"({_local(el.tag)}, line {el.sourceline}).")
                if count > MAX_ELEMENTS:
                    raise ProjectRefused(f"project.qde has more than {MAX_ELEMENTS:,} elements.")
                if root is None:
                    root = el
                    if el.getroottree().docinfo.doctype:
                        raise ProjectRefused("project.qde contains a DTD, which Chorus does not accept.")
                    ns = etree.QName(el).namespace or ""
                    if _local(el.tag) != "Project" or (ns and not ns.startswith("urn:QDA-XML:")):
                        raise ProjectRefused(
                            f"project.qde is not a REFI-QDA project: its root element is <{_local(el.tag)[:40]}>"
                            + (f" in namespace “{ns[:80]}”" if ns else "") + ", not <Project> (urn:QDA-XML:project)."
                        )
                    project.name = _clip(el.get("name"))
                    project.origin = _clip(el.get("origin"))
                continue
            depth -= 1
            name = _local(el.tag)
            parent = el.getparent()
            parent_name = _local(parent.tag) if parent is not None else ""
            if parent is root and name in handlers:
                handlers[name](el)
                el.clear()
            elif parent_name == "Sources" and parent is not None and parent.getparent() is root:
                if name == "TextSource":
                    reader.text_source(el)
                else:
                    project.skipped_sources += 1
                el.clear()
                while el.getprevious() is not None:  # free what has been read
                    del parent[0]
            elif parent is root and name == "NoteRef":
                project.project_note_guids.append(reader.ref("note", el.get("targetGUID"), el))
    except etree.XMLSyntaxError as exc:
        raise ProjectRefused(f"project.qde is not well-formed XML ({exc.msg}, line {exc.lineno}).") from None
    if root is None:
        raise ProjectRefused("project.qde is empty.")
    reader.check_refs()
    if project.skipped_sources:
        project.warnings.append(f"{project.skipped_sources} PDF, picture, audio or video source(s) were left out: "
                                "Chorus imports text sources.")
    return project


# The archive ---------------------------------------------------------------------------------------


def _unsafe(path: str) -> bool:
    p = path.replace("\\", "/")
    return p.startswith("/") or bool(re.match(r"^[A-Za-z]:", p)) or ".." in p.split("/") or "://" in p


def _source_key(path: str) -> str | None:
    """The member of ``sources/`` a plainTextPath names, lower-cased; None for a path outside it."""
    p = path.strip()
    if p.lower().startswith("internal://"):
        p = p[len("internal://"):]
    elif "://" in p:
        return None
    if _unsafe(p):
        return None
    p = p.replace("\\", "/")
    if p.lower().startswith("sources/"):
        p = p[len("sources/"):]
    return p.lower()


def decode_source(data: bytes) -> tuple[str, list[str]]:
    """A source file's text without its BOM, and what was done to read it."""
    notes: list[str] = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        notes.append("a byte-order mark was removed")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportRefused("it says it is UTF-16 but is not valid UTF-16") from None
        return text.lstrip("\ufeff"), ["the file was UTF-16 (read and stored as Unicode); a byte-order mark was removed"]
    try:
        return data.decode("utf-8"), notes
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"it is not UTF-8 text (byte {exc.start})") from None


def place_selections(project: ParsedProject, src: PSource, raw: str) -> None:
    """Decide how the file counted positions and place every selection in the stored text."""
    stored = stored_text(raw)
    src.text = stored
    spans = [(s.start, s.end, s.hint) for s in src.selections]
    pm, _ = choose_units(raw, stored, project.origin, spans)
    if "\r" in raw:
        how = "two positions" if pm.units.crlf_as_two else "one position"
        src.conversions.append(f"Windows line ends (CRLF) were written as one line end; positions counted each as {how}")
    if pm.units.unit != "cp":
        src.conversions.append(f"positions counted in {pm.units.describe()} were converted to Unicode code points")
    for sel in src.selections:
        placed = place(pm, stored, sel.start, sel.end, sel.hint)
        sel.s, sel.e, sel.problem = placed.start, placed.end, placed.problem
        if placed.problem == "outside":
            project.errors.append(
                f"PlainTextSelection (line {sel.line}) in source “{src.name}”: positions {sel.start}–{sel.end} "
                f"are beyond the end of its text ({pm.total} {pm.units.describe()})."
            )


def _position_map_for(raw: str, units: Any) -> PositionMap:  # for tests and the benchmark
    return PositionMap(raw, units)


def read_project(data: bytes, *, progress: Any = None) -> ParsedProject:
    """A whole ``.qdpx``: the archive checked, the project read, every text source's file found,
    decoded and its selections placed. Raises :class:`ProjectRefused`."""
    if not is_zip(data):
        raise ProjectRefused("This is not a .qdpx project (a REFI-QDA project is a zip file).")
    try:
        zf = open_zip(data, what="project", limits=ZIP_LIMITS)
    except ImportRefused as exc:
        raise ProjectRefused(str(exc)) from None
    names = [i.filename for i in zf.infolist() if not i.is_dir()]
    for name in names:
        if name.lower().endswith((".zip", ".qdpx")):
            raise ProjectRefused(f"The project contains another archive ({name[:100]}); nothing was imported.")
    qdes = [n for n in names if "/" not in n and n.lower().endswith(".qde")]
    if len(qdes) != 1:
        raise ProjectRefused("The project has no project.qde at its root." if not qdes
                             else f"The project has {len(qdes)} .qde files at its root; a project has one.")
    try:
        try:
            with zf.open(qdes[0]) as member:
                project = parse_qde(io.BufferedReader(_Capped(member, ZIP_LIMITS.member_bytes, qdes[0]),
                                                      buffer_size=1 << 20))
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
            raise ProjectRefused(f"The project is damaged ({qdes[0]} cannot be read).") from None
        members = {}
        for n in names:
            head, _, rest = n.partition("/")
            if head.lower() == "sources" and rest:
                members[rest.lower()] = n
        total = len(project.sources)
        for i, src in enumerate(project.sources):
            if progress:
                progress(i, total)
            _load_source(project, zf, members, src)
    except ImportRefused as exc:
        raise ProjectRefused(str(exc)) from None
    return project


def _load_source(project: ParsedProject, zf: zipfile.ZipFile, members: dict[str, str], src: PSource) -> None:
    label = f"TextSource “{src.name}” (line {src.line})"
    if src.path:
        key = _source_key(src.path)
        if key is None:
            project.errors.append(f"{label}: its file path “{_clip(src.path, 100)}” points outside the project; "
                                  "Chorus only reads files inside the .qdpx.")
            return
        member = members.get(key) or members.get(posixpath.basename(key))
        if member is None:
            project.errors.append(f"{label}: its file sources/{_clip(key, 100)} is missing from the project.")
            return
        data = read_member(zf, member, what="project", limits=ZIP_LIMITS)
        src.raw_bytes = len(data)
        try:
            raw, notes = decode_source(data)
        except ImportRefused as exc:
            project.errors.append(f"{label}: its file cannot be read: {exc}.")
            return
        src.conversions.extend(notes)
    elif src.inline is not None:
        raw = src.inline
    else:
        project.errors.append(f"{label}: it has neither a plainTextPath nor PlainTextContent.")
        return
    if "\x00" in raw:
        project.errors.append(f"{label}: its text contains NUL characters.")
        return
    if not raw.strip():
        project.errors.append(f"{label}: its text is empty.")
        return
    place_selections(project, src, raw)
