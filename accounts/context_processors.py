"""Navigation for the current study, built from the user's permissions in it."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from . import policy
from .policy import Perm

# (label, url name, permission). Later issues append their sections here.
STUDY_NAV: list[tuple[str, str, Perm]] = [
    ("Overview", "study-detail", Perm.STUDY_VIEW),
    ("Participants", "participant-list", Perm.PARTICIPANT_VIEW),
    ("Consent", "consent-dashboard", Perm.CONSENT_VIEW),
    ("Sampling", "sampling-frame", Perm.SAMPLING_VIEW),
    ("Members", "member-list", Perm.MEMBER_VIEW),
    ("Audit log", "audit-log", Perm.AUDIT_VIEW),
    ("Settings", "study-settings", Perm.STUDY_EDIT),
    ("Transcripts", "transcript-list", Perm.TRANSCRIPT_VIEW),
    ("Search", "transcript-search", Perm.TRANSCRIPT_VIEW),
]


def study_nav(request: HttpRequest) -> dict[str, Any]:
    match = getattr(request, "resolver_match", None)
    study_id = match.kwargs.get("study_id") if match else None
    if not study_id or not request.user.is_authenticated:
        return {}
    membership = policy.membership_get(user=request.user, study_id=study_id)
    if membership is None:
        return {}
    perms = policy.perms_for(user=request.user, study=membership.study_id)
    current = match.url_name if match else ""
    items = [
        {"label": label, "url": reverse(name, kwargs={"study_id": study_id}), "current": name == current}
        for label, name, perm in STUDY_NAV
        if perm in perms
    ]
    return {"nav_study": membership.study, "nav_membership": membership, "nav_items": items, "study_perms": perms}
