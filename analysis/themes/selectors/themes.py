"""Reads of themes, quotes and the board's conversation, through the policy module.

Two audiences read themes:
* the team (``Perm.THEME_ANALYSE``: admin, lead, coder) sees every theme, its codes, and the counts
  and segments behind it in their own scope (site/group), through the codings they may see;
* everyone with ``Perm.THEME_VIEW`` (the PPI co-designers too) sees the board: themes a lead has put
  on it, with quotes whose participant's consent allows sharing with PPI, labelled by group only.

Consent is read at display time (``participants_usable_q``), never copied onto a quote, so a change of
consent hides a quote from every view and export in the same instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Length, Replace, Substr
from django.http import Http404

from accounts import policy
from accounts.policy import Perm
from analysis.coding.models import Coding
from analysis.coding.selectors.codings import CONTEXT_CHARS, codings_visible
from analysis.themes.models import BoardSettings, Comment, Quote, Reaction, ReactionValue, Theme, ThemeEdit
from participants.consent_rules import DataUse, Item, data_use_allowed, participants_usable_q
from participants.models import ConsentState

SEGMENTS_PER_PAGE = 10


def _pk(value: Any) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    if not 0 < out < 2**63:
        raise Http404("Not found.")
    return out


# Themes ------------------------------------------------------------------------------------------


def themes_readable(*, user: Any, study_id: int, perm: Perm = Perm.THEME_VIEW) -> QuerySet[Theme]:
    """Themes the user may read: every theme for the team, the board's themes for everyone else."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=perm)
    qs = Theme.objects.filter(study_id=membership.study_id)
    if not policy.role_allows(membership.role, Perm.THEME_ANALYSE):
        qs = qs.filter(on_board=True)
    return qs


def theme_get(*, user: Any, study_id: int, theme_id: Any, perm: Perm = Perm.THEME_VIEW) -> Theme:
    theme = (themes_readable(user=user, study_id=study_id, perm=perm)
             .select_related("parent", "updated_by").filter(pk=_pk(theme_id)).first())
    if theme is None:
        raise Http404("No such theme.")
    return theme


def board_themes(*, user: Any, study_id: int) -> list[Theme]:
    """The board shows only themes a lead has shared, to the team as to PPI members (one board), each
    sub-theme after its parent (a sub-theme whose parent is not shared stands on its own)."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_VIEW)
    themes = list(Theme.objects.filter(study_id=study_id, on_board=True).select_related("parent"))
    shown = {t.pk for t in themes}
    children: dict[int | None, list[Theme]] = {}
    for t in themes:
        children.setdefault(t.parent_id if t.parent_id in shown else None, []).append(t)
    out: list[Theme] = []

    def walk(parent: int | None) -> None:
        for t in children.get(parent, []):
            out.append(t)
            walk(t.pk)

    walk(None)
    return out


@dataclass
class ThemeRow:
    theme: Theme
    depth: int
    participants: int = 0
    segments: int = 0
    quotes: int = 0
    open_comments: int = 0


def _theme_codings(*, user: Any, study_id: int) -> QuerySet[Coding]:
    return codings_visible(user=user, study_id=study_id).filter(lost=False)


def theme_rows(*, user: Any, study_id: int) -> list[ThemeRow]:
    """Every theme as a tree (depth-first), with participants and segments behind it in the user's scope,
    counted in SQL (one aggregate query), its quotes and its open threads."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_ANALYSE)
    themes = list(Theme.objects.filter(study_id=study_id).annotate(
        n_quotes=Count("quotes", distinct=True),
        n_open=Count("comments", filter=Q(comments__parent__isnull=True, comments__resolved_at__isnull=True,
                                          comments__deleted_at__isnull=True), distinct=True),
    ))
    counts: dict[int, dict[str, Any]] = {
        r["code__themes"]: dict(r) for r in _theme_codings(user=user, study_id=study_id)
        .filter(code__themes__study_id=study_id)
        .values("code__themes")
        .annotate(participants=Count("transcript__participant", distinct=True), segments=Count("id", distinct=True))
    }
    children: dict[int | None, list[Theme]] = {}
    for t in themes:
        children.setdefault(t.parent_id, []).append(t)
    out: list[ThemeRow] = []

    def walk(parent: int | None, depth: int) -> None:
        for t in children.get(parent, []):
            c = counts.get(t.pk, {})
            n_quotes, n_open = t.n_quotes, t.n_open  # type: ignore[attr-defined]
            out.append(ThemeRow(theme=t, depth=depth, participants=c.get("participants", 0),
                                segments=c.get("segments", 0), quotes=n_quotes, open_comments=n_open))
            walk(t.pk, depth + 1)

    walk(None, 0)
    return out


@dataclass
class GroupCount:
    group_id: int | None
    label: str
    participants: int
    segments: int


def theme_group_counts(*, user: Any, study_id: int, theme: Theme) -> list[GroupCount]:
    """Participants and segments behind the theme per participant group, in the user's scope (SQL)."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_ANALYSE)
    rows = (
        _theme_codings(user=user, study_id=study_id).filter(code__themes=theme)
        .values("transcript__participant__group_id", "transcript__participant__group__label",
                "transcript__participant__group__position")
        .annotate(participants=Count("transcript__participant", distinct=True), segments=Count("id", distinct=True))
        .order_by("transcript__participant__group__position", "transcript__participant__group_id")
    )
    return [GroupCount(r["transcript__participant__group_id"], r["transcript__participant__group__label"] or "No group",
                       r["participants"], r["segments"]) for r in rows]


@dataclass
class SegmentView:
    coding_id: int
    code_name: str
    pseudonym: str
    transcript_id: int
    line: int
    before: str
    text: str
    after: str
    quotable: bool
    not_quotable_reason: str


@dataclass
class GroupPage:
    group_id: int | None
    label: str
    total: int
    page: int
    pages: int
    segments: list[SegmentView] = field(default_factory=list)


def theme_segments_page(
    *, user: Any, study_id: int, theme: Theme, group_id: int | None, page: int = 1,
    per_page: int = SEGMENTS_PER_PAGE,
) -> GroupPage:
    """One page of the segments behind a theme from one participant group, with context."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_ANALYSE)
    qs = _theme_codings(user=user, study_id=study_id).filter(code__themes=theme,
                                                           transcript__participant__group_id=group_id)
    total = qs.count()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = (
        qs.select_related("code", "transcript__participant__group")
        .annotate(
            seg=Substr("transcript__text", F("start") + 1, F("end") - F("start")),
            pre=Substr("transcript__text", _greatest_1(F("start") - CONTEXT_CHARS + 1), _least_ctx(F("start"))),
            post=Substr("transcript__text", F("end") + 1, CONTEXT_CHARS),
            line=_line_number(),
        )
        .defer("transcript__text")
        .order_by("transcript__participant__pseudonym", "transcript_id", "start", "id")
        [(page - 1) * per_page: page * per_page]
    )
    label = ""
    segments = []
    for c in rows:
        p = c.transcript.participant
        label = p.group.label
        segments.append(SegmentView(
            coding_id=c.pk, code_name=c.code.name, pseudonym=p.pseudonym, transcript_id=c.transcript_id,
            line=c.line, before=("…" if c.start > CONTEXT_CHARS else "") + c.pre, text=c.seg, after=c.post,
            quotable=data_use_allowed(participant=p, use=DataUse.QUOTING),
            not_quotable_reason=quote_hidden_reason(p, use=DataUse.QUOTING),
        ))
    return GroupPage(group_id=group_id, label=label, total=total, page=page, pages=pages, segments=segments)


def _greatest_1(expr: Any) -> Any:
    from django.db.models.functions import Greatest

    return Greatest(expr, 1)


def _least_ctx(expr: Any) -> Any:
    from django.db.models.functions import Least

    return Least(expr, CONTEXT_CHARS)


def _line_number() -> Any:
    """The line a coding starts on, as the reading page numbers lines (``line_number_at``): newlines
    before it, plus one, counted in SQL so a page of segments never loads whole transcripts."""
    before = Substr("transcript__text", 1, F("start"))  # type: ignore[arg-type]  # an expression works
    return Length(before) - Length(Replace(before, Value("\n"), Value(""))) + 1


def theme_coding_get(*, user: Any, study_id: int, theme: Theme, coding_id: Any) -> Coding:
    """A segment behind the theme that the user can see (for curating a quote from it)."""
    coding = (_theme_codings(user=user, study_id=study_id).filter(code__themes=theme, pk=_pk(coding_id))
              .select_related("code", "transcript__participant__group").first())
    if coding is None:
        raise Http404("No such segment behind this theme.")
    return coding


def theme_history(*, user: Any, study_id: int, theme: Theme) -> QuerySet[ThemeEdit]:
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_ANALYSE)
    return ThemeEdit.objects.filter(theme=theme).select_related("actor").order_by("-version", "-id")


# Quotes -------------------------------------------------------------------------------------------


def quote_hidden_reason(participant: Any, *, use: DataUse) -> str:
    """Why the participant's consent does not allow ``use`` (empty when it does), in the team's words."""
    if data_use_allowed(participant=participant, use=use):
        return ""
    answers = participant.consent_answers or {}
    state = participant.consent_state
    if getattr(participant, "purged_at", None) is not None or state == ConsentState.WITHDRAWN_DELETE:
        return "The participant withdrew and asked for their data to be deleted."
    if state == ConsentState.WITHDRAWN_RETAIN:
        return "The participant withdrew: no new quotes of theirs may be shown."
    if state == ConsentState.NONE:
        return "The participant has no consent recorded."
    if answers.get(Item.ANONYMISED_QUOTES) is not True:
        return "The participant has not agreed to anonymised quotes."
    if answers.get(Item.TRANSCRIPTION, True) is not True:
        return "The participant has not agreed to transcription."
    if use == DataUse.PPI_SHARING and answers.get(Item.SHARE_TEAM_PPI, True) is not True:
        return "The participant has not agreed to sharing with the PPI group, so the board does not show it."
    return "The participant's consent does not allow this."


def quotes_in_scope(*, user: Any, study_id: int, perm: Perm = Perm.THEME_ANALYSE) -> QuerySet[Quote]:
    """Quotes of participants in the user's scope, whatever their consent (for the lead's curation)."""
    return policy.filter_visible(user=user, study=study_id, perm=perm,
                                 queryset=Quote.objects.filter(study_id=study_id))


def _with_text(qs: QuerySet[Quote]) -> QuerySet[Quote]:
    return qs.annotate(text=Substr("transcript__text", F("start") + 1, F("end") - F("start"))).defer(
        "transcript__text")


@dataclass
class QuoteView:
    quote: Quote
    text: str
    group: str
    pseudonym: str
    shown_to_team: bool
    on_board: bool
    hidden_reason: str
    board_reason: str


def theme_quotes_for_team(*, user: Any, study_id: int, theme: Theme) -> list[QuoteView]:
    """Every quote of the theme in the user's scope; the hidden ones say why (consent changed, text lost)."""
    qs = _with_text(quotes_in_scope(user=user, study_id=study_id).filter(theme=theme)
                    .select_related("transcript__participant__group"))
    out = []
    for q in qs:
        p = q.transcript.participant
        hidden = "The quoted text was deleted by a redaction." if q.lost else quote_hidden_reason(
            p, use=DataUse.QUOTING)
        board = hidden or quote_hidden_reason(p, use=DataUse.PPI_SHARING)
        out.append(QuoteView(quote=q, text=q.text, group=p.group.label, pseudonym=p.pseudonym,  # type: ignore[attr-defined]
                             shown_to_team=not hidden, on_board=not board, hidden_reason=hidden, board_reason=board))
    return out


def quotes_shown(*, user: Any, study_id: int, theme: Theme) -> QuerySet[Quote]:
    """The quotes of a theme this user may read now: the board's rule (consent to sharing with PPI) for
    those who only read the board; consent to quoting for the team."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_VIEW)
    use = DataUse.QUOTING if policy.role_allows(membership.role, Perm.THEME_ANALYSE) else DataUse.PPI_SHARING
    qs = policy.filter_visible(user=user, study=study_id, perm=Perm.THEME_VIEW,
                               queryset=Quote.objects.filter(study_id=study_id, theme=theme, lost=False))
    return qs.filter(participants_usable_q(use, prefix="transcript__participant__"))


@dataclass
class BoardQuote:
    id: int
    text: str
    group: str
    content_note: str


def board_quotes(*, user: Any, study_id: int, theme_ids: list[int]) -> dict[int, list[BoardQuote]]:
    """The board's quotes: shared with PPI by consent, in scope, labelled with the participant group only."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_VIEW)
    qs = policy.filter_visible(user=user, study=study_id, perm=Perm.THEME_VIEW,
                               queryset=Quote.objects.filter(study_id=study_id, theme_id__in=theme_ids, lost=False))
    qs = qs.filter(participants_usable_q(DataUse.PPI_SHARING, prefix="transcript__participant__"))
    out: dict[int, list[BoardQuote]] = {}
    fields = ("id", "theme_id", "text", "transcript__participant__group__label", "content_note")
    rows = _with_text(qs).values_list(*fields)
    for pk, theme_id, text, group, note in rows:
        out.setdefault(theme_id, []).append(BoardQuote(id=pk, text=text, group=group, content_note=note))
    return out


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
    comment = (comments_readable(user=user, study_id=study_id).filter(pk=_pk(comment_id))
               .select_related("author", "theme", "code").first())
    if comment is None:
        raise Http404("No such comment.")
    return comment


def code_comments(*, user: Any, study_id: int, code_id: Any) -> QuerySet[Comment]:
    """Every comment on a code (replies and deleted ones too, in order), for a reader of the codebook."""
    from analysis.coding.models import Code

    policy.membership_require(user=user, study_id=study_id, perm=Perm.CODEBOOK_VIEW)
    code = Code.objects.filter(study_id=study_id, pk=_pk(code_id)).first()
    if code is None:
        raise Http404("No such code.")
    return (Comment.objects.filter(study_id=study_id, code=code).select_related("author", "decided_by")
            .order_by("created_at", "id"))


def code_comment_get(*, user: Any, study_id: int, code_id: Any, comment_id: Any) -> Comment:
    comment = code_comments(user=user, study_id=study_id, code_id=code_id).filter(pk=_pk(comment_id)).first()
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


def reaction_counts(*, theme_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {t: dict.fromkeys(ReactionValue.values, 0) for t in theme_ids}
    for r in Reaction.objects.filter(theme_id__in=theme_ids).values("theme_id", "value").annotate(n=Count("id")):
        out[r["theme_id"]][r["value"]] = r["n"]
    return out


def my_reactions(*, user: Any, theme_ids: list[int]) -> dict[int, str]:
    return dict(Reaction.objects.filter(user=user, theme_id__in=theme_ids).values_list("theme_id", "value"))


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
    notifications, and (for a lead) suggestions waiting for a decision. None without board access."""
    from analysis.themes.models import Decision

    membership = policy.membership_get(user=user, study_id=study_id)
    if membership is None or not policy.role_allows(membership.role, Perm.THEME_VIEW):
        return None
    readable = Theme.objects.filter(study_id=membership.study_id)
    if not policy.role_allows(membership.role, Perm.THEME_ANALYSE):
        readable = readable.filter(on_board=True)
    visit = _visit_times(user=user, study_id=membership.study_id)
    comments = _others_new(user=user, since=visit.get("seen_at")).filter(theme__in=readable.values("pk"))
    on_codes = 0
    if policy.role_allows(membership.role, Perm.CODEBOOK_VIEW):
        on_codes = _others_new(user=user, since=visit.get("codes_seen_at")).filter(
            study_id=membership.study_id, code__isnull=False).count()
    waiting = 0
    if policy.role_allows(membership.role, Perm.COMMENT_MODERATE):
        waiting = Comment.objects.filter(study_id=membership.study_id, decision=Decision.OPEN,
                                         deleted_at__isnull=True).count()
    return BoardNews(new_comments=comments.count(), open_suggestions=waiting, new_code_comments=on_codes)


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


def digest_choice(*, user: Any, study_id: int) -> str:
    """How often the member wants the e-mail digest (``off`` until they choose)."""
    from analysis.themes.models import BoardVisit, DigestEvery

    return BoardVisit.objects.filter(user=user, study_id=study_id).values_list(
        "digest_every", flat=True).first() or DigestEvery.OFF


def support_line(*, study_id: int) -> str:
    row = BoardSettings.objects.filter(study_id=study_id).values_list("support_line", flat=True).first()
    return row or ""
