"""The header's notice of what is new on the theme board (settings.TEMPLATES context processors)."""

from typing import Any

from django.http import HttpRequest

from analysis.themes.selectors.notifications import board_news


def board_notice(request: HttpRequest) -> dict[str, Any]:
    match = getattr(request, "resolver_match", None)
    study_id = match.kwargs.get("study_id") if match else None
    if not study_id or not request.user.is_authenticated:
        return {}
    news = board_news(user=request.user, study_id=study_id)
    # Always there for a member (the link to Notifications is how one finds them); the counts only when
    # something is new.
    return {"board_news": news} if news is not None else {}
