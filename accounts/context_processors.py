"""Navigation for the current study, built from the user's permissions in it."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from . import policy
from .policy import Perm


class StudyPerms(frozenset[Perm]):
    """The member's permissions in the study as templates read them: ``{% if study_perms.memo_write %}``
    (a ``Perm`` member's name, any case). An unknown name is an AttributeError, which a template shows
    as false; ``tests/test_navigation.py`` checks every name the templates use."""

    def __getattr__(self, name: str) -> bool:
        try:
            perm = Perm[name.upper()]
        except KeyError:
            raise AttributeError(name) from None
        return perm in self


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    perm: Perm | Callable[[str], bool]  # a permission, or a named policy rule taking the role
    # URL names of the pages inside this section, so it stays marked as the current one there.
    section: tuple[str, ...] = ()
    group: str = ""  # the heading it is listed under ("" = on its own)


# The study navigation, in the order of the work, under three headings: the data, the analysis,
# and running the study. A lead is offered 17 sections; grouped, each is still one click away.
DATA, ANALYSIS, STUDY = "Data", "Analysis", "Study"
STUDY_NAV: tuple[NavItem, ...] = (
    NavItem("Overview", "study-detail", Perm.STUDY_VIEW),
    NavItem("Participants", "participant-list", Perm.PARTICIPANT_VIEW,
            ("participant-", "participants-", "attribute-", "consent-record", "consent-correct", "consent-signed"),
            DATA),
    NavItem("Consent", "consent-dashboard", Perm.CONSENT_VIEW, ("consent-form", "consent-import"), DATA),
    NavItem("Sampling", "sampling-frame", Perm.SAMPLING_VIEW, group=DATA),
    NavItem("Transcripts", "transcript-list", Perm.TRANSCRIPT_VIEW, ("transcript-", "coding-page", "coding-disagreements"),
            DATA),
    NavItem("Search", "transcript-search", Perm.TRANSCRIPT_VIEW, group=DATA),
    NavItem("Transcript sets", "transcript-set-list", Perm.TRANSCRIPT_VIEW, ("transcript-set-",), DATA),
    NavItem("Codebook", "codebook", Perm.CODEBOOK_VIEW, ("code-", "codebook-", "coding-export"), ANALYSIS),
    NavItem("Themes", "theme-list", Perm.THEME_ANALYSE, ("theme-",), ANALYSIS),
    NavItem("Theme board", "board", Perm.THEME_VIEW, ("board-",), ANALYSIS),
    NavItem("Matrices", "matrix-list", Perm.MATRIX_VIEW, ("matrix-", "framework-"), ANALYSIS),
    NavItem("Memos", "memo-list", Perm.TRANSCRIPT_VIEW, ("memo-",), ANALYSIS),
    NavItem("Double coding", "double-coding", policy.double_coding_visible, group=ANALYSIS),
    NavItem("Import project", "project-import", Perm.PROJECT_IMPORT, ("project-import-",), STUDY),
    NavItem("Export project", "project-export", Perm.PROJECT_EXPORT, group=STUDY),
    NavItem("Members", "member-list", Perm.MEMBER_VIEW, ("member-",), STUDY),
    NavItem("Jobs", "job-list", Perm.JOB_VIEW, ("job-",), STUDY),
    NavItem("Audit log", "audit-log", Perm.AUDIT_VIEW, ("audit-",), STUDY),
    NavItem("Settings", "study-settings", Perm.STUDY_EDIT, ("site-",), STUDY),
)


def _current(item: NavItem, url_name: str) -> bool:
    if url_name == item.url_name:
        return True
    # "transcript-search" has its own item, so the Transcripts section must not claim it.
    if any(url_name == other.url_name for other in STUDY_NAV):
        return False
    # The longest matching prefix wins: "transcript-set-" pages are Transcript sets, not Transcripts.
    mine = max((len(p) for p in item.section if url_name.startswith(p)), default=0)
    return mine > 0 and all(len(p) <= mine for other in STUDY_NAV if other is not item
                            for p in other.section if url_name.startswith(p))


def study_nav(request: HttpRequest) -> dict[str, Any]:
    match = getattr(request, "resolver_match", None)
    study_id = match.kwargs.get("study_id") if match else None
    if not study_id or not request.user.is_authenticated:
        return {}
    membership = policy.membership_get(user=request.user, study_id=study_id)
    if membership is None:
        return {}
    perms = StudyPerms(policy.perms_for(user=request.user, study=membership.study_id))
    current = match.url_name if match else ""
    items = [
        {"label": i.label, "url": reverse(i.url_name, kwargs={"study_id": study_id}), "current": _current(i, current),
         "group": i.group}
        for i in STUDY_NAV
        if (i.perm in perms if isinstance(i.perm, Perm) else i.perm(membership.role))
    ]
    return {"nav_study": membership.study, "nav_membership": membership, "nav_items": items,
            "nav_groups": _grouped(items), "study_perms": perms}


# Headings help once the menu is long; over a short one (a PPI member's Overview and Theme board)
# they only add words.
GROUP_FROM = 4


def _grouped(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive items under one heading; a menu shorter than GROUP_FROM has no headings."""
    headed = len(items) >= GROUP_FROM
    groups: list[dict[str, Any]] = []
    for item in items:
        label = item["group"] if headed else ""
        if groups and label and groups[-1]["label"] == label:
            groups[-1]["items"].append(item)
        else:
            groups.append({"label": label, "items": [item]})
    for g in groups:
        g["current"] = any(i["current"] for i in g["items"])
    return groups
