"""Reading zip files (.docx, bulk uploads) without trusting them: sizes and ratios are checked
from the directory before anything is decompressed, reads are capped whatever the headers claim,
and paths that climb out (``../``) or nested archives are refused."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from analysis.transcripts.importers.base import ImportRefused
from config.input_guard import format_bytes

MAX_MEMBERS = 5000
MAX_RATIO = 200  # uncompressed / compressed for one member; text XML is typically 5-20x


@dataclass(frozen=True)
class ZipLimits:
    total_bytes: int
    member_bytes: int


def open_zip(data: bytes, *, what: str, limits: ZipLimits) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ImportRefused(f"The {what} is damaged or is not really a zip file.") from exc
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ImportRefused(f"The {what} has too many entries ({len(infos)}).")
    total = 0
    for info in infos:
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/") or (len(name) > 1 and name[1] == ":"):
            raise ImportRefused(f"The {what} contains an unsafe path ({info.filename!r}); nothing was imported.")
        if info.flag_bits & 0x1:
            raise ImportRefused(f"The {what} is password-protected.")
        total += info.file_size
        if info.file_size > limits.member_bytes:
            raise ImportRefused(f"The {what} contains an entry that is too large when unpacked ({info.filename}).")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1_000_000:
            raise ImportRefused(f"The {what} looks like a zip bomb (an entry unpacks to far more than its size).")
    if total > limits.total_bytes:
        raise ImportRefused(f"The {what} is too large when unpacked ({format_bytes(total)}).")
    return zf


def read_member(zf: zipfile.ZipFile, name: str, *, what: str, limits: ZipLimits) -> bytes:
    """Read one member, stopping at the limit even if its header lies about its size."""
    try:
        with zf.open(name) as f:
            data = f.read(limits.member_bytes + 1)
    except KeyError as exc:
        raise ImportRefused(f"The {what} has no {name}.") from exc
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise ImportRefused(f"The {what} is damaged ({name} cannot be read).") from exc
    if len(data) > limits.member_bytes:
        raise ImportRefused(f"The {what} looks like a zip bomb ({name} unpacks to too much).")
    return data


def is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def is_docx_zip(data: bytes) -> bool:
    if not is_zip(data):
        return False
    try:
        return "word/document.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def is_qdpx(data: bytes) -> bool:
    """A REFI-QDA project: a zip whose top level holds project.qde."""
    if not is_zip(data):
        return False
    try:
        return any(n.lower() == "project.qde" for n in zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
