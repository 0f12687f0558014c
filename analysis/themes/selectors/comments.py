"""Reads of comments: the board's threads on themes, the team's on codes, and who may read which."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from accounts import policy
from accounts.policy import Perm
from analysis.themes.models import Comment, Theme
from analysis.themes.selectors.themes import pk_or_404, themes_readable

# Comments and reactions -------------------------------------------------------------------------


def theme_threads(*, user: Any, study_id: int, theme: Theme) -> list[Comment]:
    """Top-level comments of a theme with their replies (``thread_replies``), oldest first."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_VIEW)
    replies = Comment.objects.select_related("author").prefetch_related("revisions").order_by("created_at", "id")
    return list(
        Comment.objects.filter(theme=theme, parent__isnull=True)
        .select_related("author", "decided_by", "resolved_by", "quote")
        .prefetch_related("revisions", Prefetch("replies", queryset=replies, to_attr="thread_replies"))
        .order_by("created_at", "id")
    )


def comments_readable(*, user: Any, study_id: int) -> QuerySet[Comment]:
    """Comments the user may read: those on the themes they can read, and (for readers of the codebook)
    those on codes. A board-only member never gets a code's comment, even by its id."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.STUDY_VIEW)
    q = Q(theme__isnull=False, theme__in=themes_readable(user=user, study_id=study_id).values("pk"))
    if policy.role_allows(membership.role, Perm.CODEBOOK_VIEW):
        q |= Q(code__isnull=False)
    return Comment.objects.filter(study_id=membership.study_id).filter(q)


def comment_get(*, user: Any, study_id: int, comment_id: Any) -> Comment:
    comment = (comments_readable(user=user, study_id=study_id).filter(pk=pk_or_404(comment_id))
               .select_related("author", "theme", "code").first())
    if comment is None:
        raise Http404("No such comment.")
    return comment


def code_comments(*, user: Any, study_id: int, code_id: Any) -> QuerySet[Comment]:
    """Every comment on a code (replies and deleted ones too, in order), for a reader of the codebook."""
    from analysis.coding.models import Code

    policy.membership_require(user=user, study_id=study_id, perm=Perm.CODEBOOK_VIEW)
    code = Code.objects.filter(study_id=study_id, pk=pk_or_404(code_id)).first()
    if code is None:
        raise Http404("No such code.")
    return (Comment.objects.filter(study_id=study_id, code=code).select_related("author", "decided_by")
            .order_by("created_at", "id"))


def code_comment_get(*, user: Any, study_id: int, code_id: Any, comment_id: Any) -> Comment:
    comment = code_comments(user=user, study_id=study_id, code_id=code_id).filter(pk=pk_or_404(comment_id)).first()
    if comment is None:
        raise Http404("No such comment on this code.")
    return comment


def code_threads(*, user: Any, study_id: int, code: Any) -> list[Comment]:
    """The team's threads on a code (top-level comments with ``thread_replies``), oldest first."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.CODEBOOK_VIEW)
    replies = Comment.objects.select_related("author").prefetch_related("revisions").order_by("created_at", "id")
    return list(
        Comment.objects.filter(study_id=study_id, code=code, parent__isnull=True)
        .select_related("author", "resolved_by")
        .prefetch_related("revisions", Prefetch("replies", queryset=replies, to_attr="thread_replies"))
        .order_by("created_at", "id")
    )
