"""Theme pages (the team) and the PPI board (everyone in the study). Thin: parse a form, call a
service or selector, render. The board's pages are never cached by the browser (shared computers)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding.models import Code
from analysis.themes import forms
from analysis.themes.models import PLAIN_STATUS, Comment, Decision, ReactionValue, Theme
from analysis.themes.selectors import board as board_selectors
from analysis.themes.selectors import comments as comment_selectors
from analysis.themes.selectors import notifications as notification_selectors
from analysis.themes.selectors import quotes as quote_selectors
from analysis.themes.selectors import themes as theme_selectors
from analysis.themes.services import board as board_services
from analysis.themes.services import comments as comment_services
from analysis.themes.services import quotes as quote_services
from analysis.themes.services import reports as report_services
from analysis.themes.services import themes as theme_services
from config.web import form_errors_apply
from participants.consent_rules import DataUse


def _ctx(request: HttpRequest, study_id: int, perm: Perm) -> dict[str, Any]:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=perm)
    perms = policy.perms_for(user=request.user, study=membership.study_id)
    return {
        "study": membership.study, "membership": membership, "perms": perms,
        "can_edit": Perm.THEME_EDIT in perms, "can_propose": Perm.THEME_PROPOSE in perms,
        "can_curate": Perm.QUOTE_CURATE in perms, "can_moderate": Perm.COMMENT_MODERATE in perms,
        "can_analyse": Perm.THEME_ANALYSE in perms, "can_comment": Perm.THEME_COMMENT in perms,
        "can_settings": Perm.BOARD_SETTINGS in perms, "can_export": Perm.EXPORT in perms,
    }


def _page(value: Any) -> int:
    try:
        return max(1, min(int(value), 10_000))
    except (TypeError, ValueError):
        return 1


# Team pages ---------------------------------------------------------------------------------------


@login_required
@require_POST
def theme_report(request: HttpRequest, study_id: int) -> HttpResponse:
    try:
        job = report_services.themes_report_start(actor=acting_user(request), study_id=study_id,
                                           fmt=request.POST.get("format"), audience=request.POST.get("audience"),
                                           ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("theme-list", study_id=study_id)
    messages.success(request, "The report is being written; download it from this page when it is ready.")
    return redirect("job-detail", study_id=study_id, job_id=job.pk)


@login_required
@require_http_methods(["GET"])
def theme_list(request: HttpRequest, study_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.THEME_ANALYSE)
    rows = theme_selectors.theme_rows(user=request.user, study_id=study_id)
    return render(request, "themes/theme_list.html", {**ctx, "rows": rows})


def _code_choices(study_id: int) -> list[tuple[int, str]]:
    return list(Code.objects.filter(study_id=study_id).order_by("name", "id").values_list("pk", "name"))


def _theme_values(form: Form) -> dict[str, Any]:
    d = form.cleaned_data
    out: dict[str, Any] = {k: d[k] for k in ("name", "description", "plain_description", "status", "on_board")
                           if k in d}
    out["parent"] = d.get("parent")
    out["codes"] = d.get("codes") or []
    return out


@login_required
@require_http_methods(["GET", "POST"])
def theme_create(request: HttpRequest, study_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.THEME_PROPOSE)
    themes = list(Theme.objects.filter(study_id=study_id))
    form = forms.ThemeForm(request.POST or None, themes=themes, codes=_code_choices(study_id),
                           may_decide=ctx["can_edit"])
    if request.method == "POST" and form.is_valid():
        v = _theme_values(form)
        try:
            theme = theme_services.theme_create(
                actor=acting_user(request), study_id=study_id, name=v["name"], description=v["description"],
                plain_description=v["plain_description"], status=v.get("status", "candidate"),
                on_board=v.get("on_board", False), parent_id=v["parent"], code_ids=v["codes"], ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Theme “{theme.name}” {'created' if ctx['can_edit'] else 'proposed'}.")
            return redirect("theme-detail", study_id=study_id, theme_id=theme.pk)
    return render(request, "themes/theme_form.html", {**ctx, "form": form, "creating": True})


@login_required
@require_http_methods(["GET", "POST"])
def theme_edit(request: HttpRequest, study_id: int, theme_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.THEME_EDIT)
    theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_EDIT)
    themes = list(Theme.objects.filter(study_id=study_id))
    kw = {"themes": themes, "codes": _code_choices(study_id), "may_decide": True, "editing": theme}
    form = forms.ThemeForm(request.POST or None, initial=forms.theme_initial(theme), **kw)  # type: ignore[arg-type]
    conflict: Theme | None = None
    conflict_message = ""
    if request.method == "POST" and form.is_valid():
        try:
            theme = theme_services.theme_update(
                actor=acting_user(request), study_id=study_id, theme_id=theme.pk,
                version=form.cleaned_data.get("version") or 0, changes=_theme_values(form), ip=client_ip(request))
        except theme_services.ConflictError as exc:
            conflict, conflict_message = exc.current, str(exc)
            data = request.POST.copy()
            data["version"] = str(conflict.version)  # "Save my version" re-applies this person's values
            form = forms.ThemeForm(data, initial=forms.theme_initial(conflict), **kw)  # type: ignore[arg-type]
            form.is_valid()
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Theme “{theme.name}” saved.")
            return redirect("theme-detail", study_id=study_id, theme_id=theme.pk)
    return render(request, "themes/theme_form.html", {
        **ctx, "form": form, "theme": theme, "conflict": conflict, "conflict_message": conflict_message,
        "conflict_codes": list(conflict.codes.values_list("name", flat=True)) if conflict else [],
    }, status=409 if conflict else 200)


@login_required
@require_http_methods(["GET", "POST"])
def theme_delete(request: HttpRequest, study_id: int, theme_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.THEME_EDIT)
    theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_EDIT)
    if request.method == "POST":
        theme_services.theme_delete(actor=acting_user(request), study_id=study_id, theme_id=theme.pk, ip=client_ip(request))
        messages.success(request, f"Theme “{theme.name}” deleted.")
        return redirect("theme-list", study_id=study_id)
    return render(request, "themes/theme_delete.html", {
        **ctx, "theme": theme, "quotes": theme.quotes.count(), "comments": theme.comments.count(),
        "children": theme.children.count()})


@login_required
@require_http_methods(["GET"])
def theme_detail(request: HttpRequest, study_id: int, theme_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.THEME_ANALYSE)
    user = request.user
    theme = theme_selectors.theme_get(user=user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_ANALYSE)
    counts = theme_selectors.theme_group_counts(user=user, study_id=study_id, theme=theme)
    columns = [
        theme_selectors.theme_segments_page(user=user, study_id=study_id, theme=theme, group_id=g.group_id,
                                      page=_page(request.GET.get(f"p{g.group_id}")))
        for g in counts
    ]
    pages = {c.group_id: c.page for c in columns}
    for c in columns:  # each column pages on its own; its links keep the others where they are
        c.prev_query = _query(pages, c.group_id, c.page - 1) if c.page > 1 else ""  # type: ignore[attr-defined]
        c.next_query = _query(pages, c.group_id, c.page + 1) if c.page < c.pages else ""  # type: ignore[attr-defined]
    return render(request, "themes/theme_detail.html", {
        **ctx, "theme": theme, "codes": theme.codes.order_by("name"), "counts": counts, "columns": columns,
        "total_participants": sum(g.participants for g in counts), "total_segments": sum(g.segments for g in counts),
        "quotes": quote_selectors.theme_quotes_for_team(user=user, study_id=study_id, theme=theme),
        "history": theme_selectors.theme_history(user=user, study_id=study_id, theme=theme)[:50],
        "children": theme.children.order_by("position", "id"), "plain_status": PLAIN_STATUS[theme.status],
        "quoted": set(theme.quotes.values_list("coding_id", flat=True)),
    })


def _query(pages: dict[int | None, int], group_id: int | None, page: int) -> str:
    return "&".join(f"p{g}={page if g == group_id else p}" for g, p in pages.items())


@login_required
@require_http_methods(["GET", "POST"])
def quote_create(request: HttpRequest, study_id: int, theme_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.QUOTE_CURATE)
    theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.QUOTE_CURATE)
    coding = theme_selectors.theme_coding_get(user=request.user, study_id=study_id, theme=theme,
                                        coding_id=request.GET.get("coding") or request.POST.get("coding"))
    segment = coding.transcript.text[coding.start:coding.end]
    participant = coding.transcript.participant
    reason = quote_selectors.quote_hidden_reason(participant, use=DataUse.QUOTING)
    form = forms.QuoteForm(request.POST or None, initial={"text": segment})
    if request.method == "POST" and form.is_valid():
        try:
            quote_services.quote_create(
                actor=acting_user(request), study_id=study_id, theme_id=theme.pk, coding_id=coding.pk,
                text=form.cleaned_data["text"], content_note=form.cleaned_data["content_note"], ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Quote added to the theme.")
            return redirect(reverse("theme-detail", kwargs={"study_id": study_id, "theme_id": theme.pk}) + "#quotes")
    return render(request, "themes/quote_form.html", {
        **ctx, "theme": theme, "form": form, "coding": coding, "group": participant.group.label,
        "pseudonym": participant.pseudonym, "code_name": coding.code.name, "segment": segment,
        "not_quotable": reason, "creating": True,
    }, status=400 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def quote_edit(request: HttpRequest, study_id: int, theme_id: int, quote_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.QUOTE_CURATE)
    theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.QUOTE_CURATE)
    view = next((q for q in quote_selectors.theme_quotes_for_team(user=request.user, study_id=study_id, theme=theme)
                 if q.quote.pk == quote_id), None)
    if view is None:
        raise Http404("No such quote.")
    form = forms.QuoteForm(request.POST or None, initial={"text": view.text, "content_note": view.quote.content_note})
    if request.method == "POST" and form.is_valid():
        try:
            quote_services.quote_update(
                actor=acting_user(request), study_id=study_id, theme_id=theme.pk, quote_id=quote_id,
                text=form.cleaned_data["text"], content_note=form.cleaned_data["content_note"], ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Quote saved.")
            return redirect(reverse("theme-detail", kwargs={"study_id": study_id, "theme_id": theme.pk}) + "#quotes")
    return render(request, "themes/quote_form.html", {
        **ctx, "theme": theme, "form": form, "group": view.group, "pseudonym": view.pseudonym, "quote": view,
        "creating": False}, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def quote_remove(request: HttpRequest, study_id: int, theme_id: int, quote_id: int) -> HttpResponse:
    quote_services.quote_remove(actor=acting_user(request), study_id=study_id, theme_id=theme_id, quote_id=quote_id,
                          ip=client_ip(request))
    messages.success(request, "Quote removed from the theme.")
    return redirect(reverse("theme-detail", kwargs={"study_id": study_id, "theme_id": theme_id}) + "#quotes")


# The board ----------------------------------------------------------------------------------------


def board_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Signed-in only, and never kept by the browser: the board is read on shared computers."""
    return login_required(never_cache(wraps(view)(view)))


@board_page
@require_http_methods(["GET"])
def board(request: HttpRequest, study_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.THEME_VIEW)
    themes = board_selectors.board_themes(user=request.user, study_id=study_id)
    ids = [t.pk for t in themes]
    quotes = quote_selectors.board_quotes(user=request.user, study_id=study_id, theme_ids=ids)
    live = Comment.objects.filter(theme_id__in=ids, deleted_at__isnull=True)
    comments = dict(live.values("theme_id").annotate(n=Count("id")).values_list("theme_id", "n"))
    me = acting_user(request)
    seen = board_services.board_visit_record(actor=me, study_id=study_id)
    fresh = live.exclude(author=me).filter(**({"created_at__gt": seen} if seen else {}))
    new = dict(fresh.values("theme_id").annotate(n=Count("id")).values_list("theme_id", "n"))
    items = [{"theme": t, "quotes": len(quotes.get(t.pk, [])), "comments": comments.get(t.pk, 0),
              "new": new.get(t.pk, 0)} for t in themes]
    return render(request, "themes/board.html", {
        **ctx, "items": items, "support_line": board_selectors.support_line(study_id=study_id),
        "digest": board_selectors.digest_choice(user=me, study_id=study_id)})


def _board_theme_context(request: HttpRequest, study_id: int, theme: Theme, seen: Any = None,
                         **extra: Any) -> dict[str, Any]:
    ctx = _ctx(request, study_id, Perm.THEME_VIEW)
    quotes = quote_selectors.board_quotes(user=request.user, study_id=study_id, theme_ids=[theme.pk]).get(theme.pk, [])
    threads = comment_selectors.theme_threads(user=request.user, study_id=study_id, theme=theme)
    counts = board_selectors.reaction_counts(theme_ids=[theme.pk])[theme.pk]
    mine = board_selectors.my_reactions(user=request.user, theme_ids=[theme.pk]).get(theme.pk, "")
    quote_choices = [(q.id, f"Quote {i} ({q.group})") for i, q in enumerate(quotes, 1)]
    quote_numbers = {q.id: i for i, q in enumerate(quotes, 1)}
    membership = ctx["membership"]
    for c in [c for t in threads for c in (t, *t.thread_replies)]:  # type: ignore[attr-defined]
        c.quote_number = quote_numbers.get(c.quote_id)
        live = c.deleted_at is None
        c.is_new = bool(seen) and live and c.author_id != request.user.pk and c.created_at > seen
        c.may_edit = live and policy.may_edit_comment(membership=membership, author_id=c.author_id)
        c.may_delete = live and policy.may_delete_comment(membership=membership, author_id=c.author_id)
    return {
        **ctx, "theme": theme, "quotes": quotes, "threads": threads, "support_line": board_selectors.support_line(
            study_id=study_id),
        "reactions": [(v, label, counts[v]) for v, label in ReactionValue.choices], "my_reaction": mine,
        "reaction_form": forms.ReactionForm(initial={"value": mine}),
        "comment_form": extra.pop("comment_form", None) or forms.CommentForm(quotes=quote_choices),
        **extra,
    }


@board_page
@require_http_methods(["GET"])
def board_theme(request: HttpRequest, study_id: int, theme_id: int) -> HttpResponse:
    theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id)
    if not theme.on_board:  # the board shows what the PPI group sees, to the team as well
        raise Http404("This theme is not on the board.")
    seen = board_services.board_visit_record(actor=acting_user(request), study_id=study_id)
    return render(request, "themes/board_theme.html", _board_theme_context(request, study_id, theme, seen=seen))


def _board_theme_url(study_id: int, theme_id: int, anchor: str = "") -> str:
    return reverse("board-theme", kwargs={"study_id": study_id, "theme_id": theme_id}) + anchor


def _comment_url(study_id: int, comment: Comment, anchor: str = "") -> str:
    """Where a comment is read: its code's page for the team's comments on a code, else the board."""
    if comment.code_id is not None:
        return reverse("code-detail", kwargs={"study_id": study_id, "code_id": comment.code_id}) + anchor
    assert comment.theme_id is not None  # one target (the comment_one_target constraint)
    return _board_theme_url(study_id, comment.theme_id, anchor)


@board_page
@require_POST
def board_react(request: HttpRequest, study_id: int, theme_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.THEME_COMMENT)
    theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_COMMENT)
    value = request.POST.get("value", "")
    try:
        comment_services.reaction_set(actor=acting_user(request), study_id=study_id, theme_id=theme.pk, value=value)
    except ValidationError:
        messages.error(request, "Choose one of the three answers.")
        return redirect(_board_theme_url(study_id, theme.pk, "#react"))
    messages.success(request, "Thank you: your answer is saved." if value else "Your answer is taken back.")
    return redirect(_board_theme_url(study_id, theme.pk, "#react"))


@board_page
@require_POST
def comment_create(request: HttpRequest, study_id: int, theme_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.THEME_COMMENT)
    theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_COMMENT)
    is_reply = "parent" in request.POST
    form: Form = forms.ReplyForm(request.POST) if is_reply else forms.CommentForm(
        request.POST, quotes=[(q.pk, "") for q in quote_selectors.quotes_shown(user=request.user, study_id=study_id,
                                                                           theme=theme)])
    if form.is_valid():
        d = form.cleaned_data
        try:
            comment = comment_services.comment_create(
                actor=acting_user(request), study_id=study_id, theme_id=theme.pk, body=d["body"],
                parent_id=d.get("parent"), quote_id=d.get("quote"), kind=d.get("kind") or "comment",
                suggested_name=d.get("suggested_name", ""), ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Your reply is posted." if is_reply else "Your comment is posted.")
            return redirect(_board_theme_url(study_id, theme.pk, f"#comment-{comment.pk}"))
    if is_reply:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect(_board_theme_url(study_id, theme.pk, "#comments"))
    ctx = _board_theme_context(request, study_id, theme, comment_form=form)
    return render(request, "themes/board_theme.html", ctx, status=400)


@board_page
@require_http_methods(["GET", "POST"])
def comment_edit(request: HttpRequest, study_id: int, comment_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.THEME_COMMENT)
    comment = comment_selectors.comment_get(user=request.user, study_id=study_id, comment_id=comment_id)
    if not policy.may_edit_comment(membership=ctx["membership"], author_id=comment.author_id,
                                   on_code=comment.code_id is not None):
        raise PermissionDenied("Only the person who wrote a comment can change it.")
    form = forms.CommentEditForm(request.POST or None, initial={"body": comment.body})
    if request.method == "POST" and form.is_valid():
        try:
            comment_services.comment_update(actor=acting_user(request), study_id=study_id, comment_id=comment.pk,
                                    body=form.cleaned_data["body"], ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Your comment is saved.")
            return redirect(_comment_url(study_id, comment, f"#comment-{comment.pk}"))
    return render(request, "themes/comment_edit.html", {**ctx, "comment": comment, "form": form,
                                                        "back": _comment_url(study_id, comment, f"#comment-{comment.pk}"),
                                                        "revisions": comment.revisions.all()})


@board_page
@require_POST
def comment_delete(request: HttpRequest, study_id: int, comment_id: int) -> HttpResponse:
    comment = comment_services.comment_delete(actor=acting_user(request), study_id=study_id, comment_id=comment_id,
                                      ip=client_ip(request))
    messages.success(request, "The comment is deleted.")
    return redirect(_comment_url(study_id, comment, f"#comment-{comment.pk}"))


@board_page
@require_POST
def comment_resolve(request: HttpRequest, study_id: int, comment_id: int) -> HttpResponse:
    resolved = request.POST.get("resolved") == "yes"
    try:
        comment = comment_services.comment_resolve(actor=acting_user(request), study_id=study_id, comment_id=comment_id,
                                           resolved=resolved, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        comment = comment_selectors.comment_get(user=request.user, study_id=study_id, comment_id=comment_id)
    else:
        messages.success(request, "Marked as dealt with." if resolved else "Reopened.")
    return redirect(_comment_url(study_id, comment, f"#comment-{comment.pk}"))


@board_page
@require_http_methods(["GET", "POST"])
def suggestion_decide(request: HttpRequest, study_id: int, comment_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.COMMENT_MODERATE)
    comment = comment_selectors.comment_get(user=request.user, study_id=study_id, comment_id=comment_id)
    if not comment.is_suggestion or comment.decision != Decision.OPEN:
        messages.error(request, "This is not a suggestion waiting for a decision.")
        return redirect(_comment_url(study_id, comment, f"#comment-{comment.pk}"))
    form = forms.DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            comment_services.suggestion_decide(
                actor=acting_user(request), study_id=study_id, comment_id=comment.pk,
                accept=form.cleaned_data["decision"] == "accept", reason=form.cleaned_data["reason"],
                ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Decision saved; the board shows it to everyone.")
            return redirect(_comment_url(study_id, comment, f"#comment-{comment.pk}"))
    return render(request, "themes/suggestion_decide.html", {**ctx, "comment": comment, "form": form},
                  status=400 if request.method == "POST" else 200)


@board_page
@require_http_methods(["GET", "POST"])
def board_digest(request: HttpRequest, study_id: int) -> HttpResponse:
    """How often this member gets the e-mail summary (reachable from the notifications list and the board)."""
    ctx = _ctx(request, study_id, Perm.THEME_VIEW)
    me = acting_user(request)
    form = forms.DigestForm(request.POST or None, initial={"every": board_selectors.digest_choice(user=me, study_id=study_id)})
    if request.method == "POST" and form.is_valid():
        every = form.cleaned_data["every"]
        board_services.board_digest_choose(actor=me, study_id=study_id, every=every)
        messages.success(request, {"off": "You will not get e-mails about what is new.",
                                   "daily": "You will get an e-mail once a day when there is something new.",
                                   "weekly": "You will get an e-mail once a week when there is something new."}[every])
        return redirect("notifications", study_id=study_id)
    return render(request, "themes/digest.html", {**ctx, "form": form},
                  status=400 if request.method == "POST" else 200)


@board_page
@require_http_methods(["GET"])
def notifications(request: HttpRequest, study_id: int) -> HttpResponse:
    """What is new for this member: comments on the board, on codes (the team) and suggestions waiting
    (leads). Opening it marks them read."""
    ctx = _ctx(request, study_id, Perm.THEME_VIEW)
    me = acting_user(request)
    notes = notification_selectors.notifications(user=me, study_id=study_id)
    board_services.notifications_visit_record(actor=me, study_id=study_id)
    return render(request, "themes/notifications.html", {
        **ctx, "notes": notes, "digest": board_selectors.digest_choice(user=me, study_id=study_id),
        "can_read_codes": Perm.CODEBOOK_VIEW in ctx["perms"]})


# Comments on codes (the team) --------------------------------------------------------------------


def code_comments_panel(request: HttpRequest, study_id: int, code: Code) -> tuple[str, dict[str, Any]] | None:
    """The code page's panel of the team's comments (registered in apps.py: the codebook does not import
    this app). None for a member who may not read the codebook (they never reach the page anyway)."""
    membership = policy.membership_get(user=request.user, study_id=study_id)
    if membership is None or not policy.has_perm(user=request.user, study=study_id, perm=Perm.CODEBOOK_VIEW):
        return None
    threads = comment_selectors.code_threads(user=request.user, study_id=study_id, code=code)
    for c in [c for t in threads for c in (t, *t.thread_replies)]:  # type: ignore[attr-defined]
        live = c.deleted_at is None
        c.may_edit = live and policy.may_edit_comment(membership=membership, author_id=c.author_id, on_code=True)
        c.may_delete = live and policy.may_delete_comment(membership=membership, author_id=c.author_id, on_code=True)
    return "themes/_code_comments.html", {
        "code": code, "threads": threads, "form": forms.CodeCommentForm(),
    }


@login_required
@require_POST
def code_comment_create(request: HttpRequest, study_id: int, code_id: int) -> HttpResponse:
    is_reply = "parent" in request.POST
    form: Form = forms.ReplyForm(request.POST) if is_reply else forms.CodeCommentForm(request.POST)
    back = reverse("code-detail", kwargs={"study_id": study_id, "code_id": code_id})
    if form.is_valid():
        d = form.cleaned_data
        try:
            comment = comment_services.comment_create(
                actor=acting_user(request), study_id=study_id, code_id=code_id, body=d["body"],
                parent_id=d.get("parent"), ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Your reply is posted." if is_reply else "Your comment is posted.")
            return redirect(back + f"#comment-{comment.pk}")
    else:
        # The form's own checks come after the policy's: someone who may not comment here learns nothing
        # from a validation message.
        comment_services.code_comment_allowed(actor=acting_user(request), study_id=study_id, code_id=code_id)
    ctx = _ctx(request, study_id, Perm.CODE_COMMENT)
    code = Code.objects.get(study_id=study_id, pk=code_id)  # the service found it in this study
    return render(request, "themes/code_comment_form.html", {**ctx, "code": code, "form": form, "back": back,
                                                             "is_reply": is_reply}, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def board_settings(request: HttpRequest, study_id: int) -> HttpResponse:
    ctx = _ctx(request, study_id, Perm.BOARD_SETTINGS)
    form = forms.BoardSettingsForm(request.POST or None,
                                   initial={"support_line": board_selectors.support_line(study_id=study_id)})
    if request.method == "POST" and form.is_valid():
        try:
            board_services.board_settings_update(actor=acting_user(request), study_id=study_id,
                                           support_line=form.cleaned_data["support_line"], ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Board settings saved.")
            return redirect("board", study_id=study_id)
    return render(request, "themes/board_settings.html", {**ctx, "form": form, "now": timezone.now()})
