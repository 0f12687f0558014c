"""The codebook as a file, in and out (REFI-QDA .qdc or CSV): the page and the API call these same
functions, so both check, read and audit a file the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding import csvio
from analysis.coding.selectors import codebook as selectors
from analysis.coding.services import codebook_import as importing
from interop import qdc

FORMATS = ("qdc", "csv")


@dataclass(frozen=True)
class CodebookFile:
    content: bytes
    content_type: str
    filename: str


def codebook_upload_parse(*, upload: Any) -> importing.ParsedFile:
    """Read an uploaded codebook file within the size limit and parse it by its extension."""
    limit_mib = importing.MAX_IMPORT_BYTES // (1024 * 1024)
    if upload.size > importing.MAX_IMPORT_BYTES:
        raise importing.ImportFileError(f"The file is larger than {limit_mib} MiB.")
    data: bytes = upload.read(importing.MAX_IMPORT_BYTES + 1)
    if len(data) > importing.MAX_IMPORT_BYTES:
        raise importing.ImportFileError(f"The file is larger than {limit_mib} MiB.")
    name = upload.name or ""
    suffix = PurePath(name).suffix.lower()
    if suffix == ".csv":
        return csvio.csv_parse(data, filename=name)
    if suffix in (".qdc", ".qde", ".xml"):
        return qdc.qdc_parse(data, filename=name)
    raise importing.ImportFileError("Choose a .qdc (REFI-QDA codebook) or .csv file.")


def codebook_export(*, actor: User, study_id: int, fmt: str, ip: str | None, via: str = "page") -> CodebookFile:
    """The study's codebook as a file, audited. An unknown format or an empty codebook is a
    ValidationError that says so."""
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.EXPORT)
    if fmt not in FORMATS:
        raise ValidationError({"as": "Choose qdc or csv."})
    codes = list(selectors.code_list(user=actor, study_id=study_id))
    if not codes:
        raise ValidationError("The codebook is empty: there is nothing to export yet.")
    roots = selectors.code_tree(codes)
    if fmt == "qdc":
        content, ctype = qdc.qdc_export(roots), "application/xml; charset=utf-8"
    else:
        content, ctype = csvio.csv_export(selectors.code_tree_flat(roots)), "text/csv; charset=utf-8"
    audit_record(
        actor=actor, action="codebook.export", study=study, object_type="coding.codebook", object_id=study.pk,
        ip=ip, details={"format": fmt, "codes": len(codes), "via": via},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return CodebookFile(content=content, content_type=ctype, filename=f"codebook-study{study.pk}-{stamp}.{fmt}")
