"""Reads of the board itself: its themes in order, reactions, the study's support line, digest choices."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from accounts import policy
from accounts.policy import Perm
from analysis.themes.models import BoardSettings, Reaction, ReactionValue, Theme


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


def reaction_counts(*, theme_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {t: dict.fromkeys(ReactionValue.values, 0) for t in theme_ids}
    for r in Reaction.objects.filter(theme_id__in=theme_ids).values("theme_id", "value").annotate(n=Count("id")):
        out[r["theme_id"]][r["value"]] = r["n"]
    return out


def my_reactions(*, user: Any, theme_ids: list[int]) -> dict[int, str]:
    return dict(Reaction.objects.filter(user=user, theme_id__in=theme_ids).values_list("theme_id", "value"))


def digest_choice(*, user: Any, study_id: int) -> str:
    """How often the member wants the e-mail digest (``off`` until they choose)."""
    from analysis.themes.models import BoardVisit, DigestEvery

    return BoardVisit.objects.filter(user=user, study_id=study_id).values_list(
        "digest_every", flat=True).first() or DigestEvery.OFF


def support_line(*, study_id: int) -> str:
    row = BoardSettings.objects.filter(study_id=study_id).values_list("support_line", flat=True).first()
    return row or ""
