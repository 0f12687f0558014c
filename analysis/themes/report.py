"""The themes report, for a paper's results section (the team's version) or for the PPI group (plain
language): Markdown and Word (.docx, written with python-docx). Built by a job as its creator sees the
study (scope), with consent read when it runs, so a quote whose participant has since withdrawn is
never written; the purge removes reports that may hold a withdrawn participant's words."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from accounts.models import Study
from analysis.themes.models import Comment, Decision, Theme
from analysis.themes.selectors import board as board_selectors
from analysis.themes.selectors import quotes as quote_selectors
from analysis.themes.selectors import themes as theme_selectors

FORMATS = ("md", "docx")
AUDIENCES = ("team", "ppi")


@dataclass
class ReportTheme:
    name: str
    depth: int
    description: str
    status: str
    codes: list[str] = field(default_factory=list)
    counts: list[tuple[str, int, int]] = field(default_factory=list)
    quotes: list[tuple[str, str, str]] = field(default_factory=list)  # text, group, content note
    involvement: list[str] = field(default_factory=list)


def report_content(*, user: Any, study: Study, audience: str) -> tuple[str, list[ReportTheme]]:
    """The report's themes as ``user`` may see them. The team's version has every theme with its codes
    and counts by group and the quotes the team may quote; the PPI version only the board's themes, in
    plain words, with the board's quotes (labelled by group), and what became of the group's suggestions."""
    if audience == "ppi":
        themes = [(t, 0 if t.parent_id is None else 1) for t in board_selectors.board_themes(user=user, study_id=study.pk)]
        quotes = quote_selectors.board_quotes(user=user, study_id=study.pk, theme_ids=[t.pk for t, _ in themes])
        out = []
        for t, depth in themes:
            outcomes = Comment.objects.filter(theme=t, deleted_at__isnull=True).exclude(decision__in=["", Decision.OPEN])
            out.append(ReportTheme(
                name=t.name, depth=depth, description=t.board_description, status=t.plain_status,
                quotes=[(q.text, q.group, q.content_note) for q in quotes.get(t.pk, [])],
                involvement=[c.outcome for c in outcomes],
            ))
        return f"{study.name}: what we found so far", out
    rows = theme_selectors.theme_rows(user=user, study_id=study.pk)
    out = []
    for row in rows:
        theme: Theme = row.theme
        views = quote_selectors.theme_quotes_for_team(user=user, study_id=study.pk, theme=theme)
        shown = [q for q in views if q.shown_to_team]
        out.append(ReportTheme(
            name=theme.name, depth=row.depth, description=theme.description, status=theme.get_status_display(),
            codes=list(theme.codes.order_by("name").values_list("name", flat=True)),
            counts=[(g.label, g.participants, g.segments)
                    for g in theme_selectors.theme_group_counts(user=user, study_id=study.pk, theme=theme)],
            quotes=[(q.text, q.group, q.quote.content_note) for q in shown],
        ))
    return f"{study.name}: themes", out


def report_markdown(title: str, themes: list[ReportTheme], *, audience: str) -> str:
    lines = [f"# {title}", "", f"Written {timezone.localtime():%d %B %Y}.", ""]
    for t in themes:
        lines += [f"{'##' if t.depth == 0 else '###'} {t.name}", ""]
        if t.description:
            lines += [t.description, ""]
        lines += [f"*{'Where we are with it' if audience == 'ppi' else 'Status'}: {t.status}*", ""]
        if t.codes:
            lines += ["Codes: " + ", ".join(t.codes), ""]
        if t.counts:
            lines += ["| Participant group | Participants | Segments |", "|---|---|---|"]
            lines += [f"| {g} | {p} | {s} |" for g, p, s in t.counts]
            lines += [""]
        for text, group, note in t.quotes:
            prefix = f"(Content note: {note}) " if note else ""
            lines += [f"> {prefix}“{text}” ({group})", ""]
        for outcome in t.involvement:
            lines += [f"- {outcome}"]
        if t.involvement:
            lines += [""]
    return "\n".join(lines)


def report_docx(title: str, themes: list[ReportTheme], *, audience: str) -> bytes:
    from docx import Document

    doc = Document()
    doc.add_heading(title, level=0)
    doc.add_paragraph(f"Written {timezone.localtime():%d %B %Y}.")
    for t in themes:
        doc.add_heading(t.name, level=1 if t.depth == 0 else 2)
        if t.description:
            doc.add_paragraph(t.description)
        label = "Where we are with it" if audience == "ppi" else "Status"
        doc.add_paragraph().add_run(f"{label}: {t.status}").italic = True
        if t.codes:
            doc.add_paragraph("Codes: " + ", ".join(t.codes))
        if t.counts:
            table = doc.add_table(rows=1, cols=3)
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, ("Participant group", "Participants", "Segments"), strict=True):
                cell.text = text
            for g, p, s in t.counts:
                cells = table.add_row().cells
                cells[0].text, cells[1].text, cells[2].text = g, str(p), str(s)
        for text, group, note in t.quotes:
            para = doc.add_paragraph(style="Quote")
            if note:
                para.add_run(f"(Content note: {note}) ").italic = True
            para.add_run(f"“{text}” ({group})")
        for outcome in t.involvement:
            doc.add_paragraph(outcome, style="List Bullet")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
