"""DRF permission classes over the policy module, so API views declare what they need instead of
repeating the check in every handler.

``StudyMember`` is in the default permission classes: on any URL under ``/studies/{study_id}/`` a
non-member gets 404 before the request body or query is looked at, so a malformed request never
tells an outsider anything a well-formed one would not. ``StudyPermission(Perm.X)`` adds a role
permission (403 for a member without it), optionally for some methods only::

    class CodeListAPI(APIView):
        permission_classes = [*API_DEFAULT, StudyPermission(Perm.CODEBOOK_EDIT, methods=("POST",))]
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request

from config.input_guard import refuse_bad_query

from . import policy
from .policy import Perm


class StudyMember(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        study_id = getattr(view, "kwargs", {}).get("study_id")
        if study_id is not None:
            policy.membership_require(user=request.user, study_id=study_id, perm=Perm.STUDY_VIEW)
        # Then, for members and study-less endpoints alike: no NUL or oversized number in the query string.
        refuse_bad_query(request)
        return True


def StudyPermission(perm: Perm, *, methods: tuple[str, ...] | None = None) -> type[BasePermission]:
    """A permission class requiring ``perm`` in the URL's study (for ``methods`` only, if given)."""

    class _StudyPermission(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            if methods is None or request.method in methods:
                policy.membership_require(user=request.user, study_id=view.kwargs["study_id"], perm=perm)
            return True

    _StudyPermission.__name__ = f"StudyPermission({perm.name}{', ' + '/'.join(methods) if methods else ''})"
    return _StudyPermission


API_DEFAULT: list[type[BasePermission]] = [IsAuthenticated, StudyMember]
