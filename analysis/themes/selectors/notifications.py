"""What is new to whom: the header's counts, the notifications list and the e-mail digest's contents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts import policy
from accounts.policy import Perm
from analysis.themes.models import Comment
from analysis.themes.selectors.themes import themes_readable


@dataclass
class BoardNews:
    new_comments: int
    open_suggestions: int
    new_code_comments: int = 0

    @property
    def any(self) -> bool:
        return bool(self.new_comments or self.open_suggestions or self.new_code_comments)


def _others_new(*, user: Any, since: Any) -> QuerySet[Comment]:
    qs = Comment.objects.filter(deleted_at__isnull=True).exclude(author=user)
    return qs.filter(created_at__gt=since) if since is not None else qs


def _visit_times(*, user: Any, study_id: int) -> dict[str, Any]:
    """When the member last read the board (``seen_at``) and code comments (``codes_seen_at``); empty if never."""
    from analysis.themes.models import BoardVisit

    row = BoardVisit.objects.filter(user=user, study_id=study_id).values("seen_at", "codes_seen_at").first()
    return dict(row) if row else {}


def board_news(*, user: Any, study_id: int) -> BoardNews | None:
    """What is new for this member: others' comments and replies on the themes they can read since their
    last visit to the board, others' comments on codes (for the team) since they last opened their
    notifications, and (for a lead) suggestions waiting for a decision. None without board access.

    One statement (every page of a study shows these counts in its header): the three counts are filtered
    aggregates over the study's comments, the visit times scalar subqueries; as separate queries they were
    four round trips on every page."""
    from analysis.themes.models import BoardVisit, Decision

    membership = policy.membership_get(user=user, study_id=study_id)
    if membership is None or not policy.role_allows(membership.role, Perm.THEME_VIEW):
        return None
    visit = BoardVisit.objects.filter(user=user, study_id=membership.study_id)
    never = Value(datetime(1, 1, 1, tzinfo=UTC))  # no visit yet: everything is new

    def since(column: str) -> Any:
        return Coalesce(Subquery(visit.values(column)[:1]), never)

    live = Comment.objects.filter(study_id=membership.study_id, deleted_at__isnull=True)
    others = ~Q(author=user)
    on_board = Q(theme__isnull=False) & others & Q(created_at__gt=since("seen_at"))
    if not policy.role_allows(membership.role, Perm.THEME_ANALYSE):
        on_board &= Q(theme__on_board=True)
    counts: dict[str, Any] = {"board": Count("pk", filter=on_board)}
    if policy.role_allows(membership.role, Perm.CODEBOOK_VIEW):
        counts["codes"] = Count("pk", filter=Q(code__isnull=False) & others & Q(created_at__gt=since("codes_seen_at")))
    if policy.role_allows(membership.role, Perm.COMMENT_MODERATE):
        counts["waiting"] = Count("pk", filter=Q(decision=Decision.OPEN))
    found = live.aggregate(**counts)
    return BoardNews(new_comments=found["board"], open_suggestions=found.get("waiting") or 0,
                     new_code_comments=found.get("codes") or 0)


@dataclass
class Notification:
    """One line of the notifications list: what, where (a theme or a code, by name), who and when."""
    comment: Comment
    where: str
    on_code: bool
    reply: bool
    new: bool


@dataclass
class Notifications:
    board: list[Notification]
    codes: list[Notification]
    waiting: list[Comment]


NOTIFICATIONS_SHOWN = 50


def notifications(*, user: Any, study_id: int) -> Notifications:
    """The notifications list: the latest others' comments on the board and (for the team) on codes,
    the unread ones marked, and suggestions waiting for a lead's decision."""
    from analysis.themes.models import Decision

    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_VIEW)
    visit = _visit_times(user=user, study_id=study_id)
    board_q = themes_readable(user=user, study_id=study_id).values("pk")

    def rows(qs: QuerySet[Comment], since: Any, on_code: bool) -> list[Notification]:
        qs = qs.exclude(author=user).filter(deleted_at__isnull=True).select_related("author", "theme", "code")
        return [Notification(comment=c, where=c.target_name, on_code=on_code, reply=c.parent_id is not None,
                             new=since is None or c.created_at > since)
                for c in qs.order_by("-created_at", "-id")[:NOTIFICATIONS_SHOWN]]

    board = rows(Comment.objects.filter(study_id=study_id, theme__in=board_q), visit.get("seen_at"), False)
    codes: list[Notification] = []
    if policy.role_allows(membership.role, Perm.CODEBOOK_VIEW):
        codes = rows(Comment.objects.filter(study_id=study_id, code__isnull=False), visit.get("codes_seen_at"), True)
    waiting: list[Comment] = []
    if policy.role_allows(membership.role, Perm.COMMENT_MODERATE):
        waiting = list(Comment.objects.filter(study_id=study_id, decision=Decision.OPEN, deleted_at__isnull=True)
                       .select_related("author", "theme").order_by("created_at", "id"))
    return Notifications(board=board, codes=codes, waiting=waiting)


@dataclass
class DigestNews:
    new_comments: int
    open_suggestions: int
    by_theme: list[tuple[str, int]]
    by_code: list[tuple[str, int]] = field(default_factory=list)

    @property
    def items(self) -> int:
        return self.new_comments + self.open_suggestions + sum(n for _, n in self.by_code)


def board_news_since(*, user: Any, study_id: int, since: Any, codes_since: Any = None) -> DigestNews | None:
    """Others' comments since ``since`` per theme the member can read (board themes only for a board-only
    member), per code for the team, and suggestions waiting (leads). None for a former member."""
    from analysis.themes.models import Decision

    policy.membership_forget(user=user)
    membership = policy.membership_get(user=user, study_id=study_id)
    if membership is None or not policy.role_allows(membership.role, Perm.THEME_VIEW):
        return None
    readable = themes_readable(user=user, study_id=study_id)
    fresh = _others_new(user=user, since=since)
    rows = (fresh.filter(theme__in=readable.values("pk")).values("theme__name").annotate(n=Count("id"))
            .order_by("theme__name"))
    by_theme = [(r["theme__name"], r["n"]) for r in rows]
    by_code: list[tuple[str, int]] = []
    if policy.role_allows(membership.role, Perm.CODEBOOK_VIEW):
        per_code = (_others_new(user=user, since=codes_since or since).filter(study_id=study_id, code__isnull=False)
                    .values_list("code__name").annotate(n=Count("id")).order_by("code__name"))
        by_code = [(name, n) for name, n in per_code]
    waiting = 0
    if policy.role_allows(membership.role, Perm.COMMENT_MODERATE):
        waiting = Comment.objects.filter(study_id=study_id, decision=Decision.OPEN, deleted_at__isnull=True).count()
    return DigestNews(new_comments=sum(n for _, n in by_theme), open_suggestions=waiting, by_theme=by_theme,
                      by_code=by_code)
