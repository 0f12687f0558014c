"""The API covers everything a user can do in the browser (issue 15).

``COVERAGE`` maps every routed page (its URL name: each page that shows data and each form it posts) to
the API operation(s) that do the same, as ``"<api URL name> <METHOD>"``. ``NAVIGATION`` lists the pages
with no API counterpart on purpose, each with the reason. The tests fail when a page is routed that is
in neither table, when a table names a page or an API operation that does not exist, or when an API
view does not implement the method the table names. A new page therefore needs its API operation
(or a justified entry in ``NAVIGATION``) before the suite passes.

docs/api.md links here as the coverage table.
"""

from __future__ import annotations

from django.urls import get_resolver

from .roles import view_class, walk

COVERAGE: dict[str, list[str]] = {
    # Studies, sites, members, audit (accounts) -----------------------------------------------------
    "study-list": ["api-study-list GET"],
    "study-create": ["api-study-list POST"],
    "study-detail": ["api-study-detail GET"],
    "study-settings": ["api-study-detail GET", "api-study-detail PATCH", "api-site-list GET"],
    "site-create": ["api-site-list POST"],
    "site-update": ["api-site-detail PATCH"],
    "site-delete": ["api-site-detail DELETE"],
    "member-list": ["api-member-list GET", "api-member-list POST"],
    "member-edit": ["api-member-detail GET", "api-member-detail PATCH"],
    "member-remove": ["api-member-detail DELETE"],
    "audit-log": ["api-audit-list GET"],
    "audit-export": ["api-audit-export POST"],
    # Participants and consent ------------------------------------------------------------------------
    "participant-list": ["api-participant-list GET"],
    "participant-create": ["api-participant-list POST"],
    "participants-import": ["api-import-participants POST"],
    "participants-export": ["api-participant-export POST"],
    "attribute-list": ["api-attribute-list GET", "api-attribute-list POST"],
    "attribute-delete": ["api-attribute-detail DELETE"],
    "participant-detail": ["api-participant-detail GET", "api-participant-consent-events GET"],
    "participant-edit": ["api-participant-detail PATCH"],
    "participant-identifiable": ["api-participant-identifiable GET"],
    "consent-record": ["api-participant-consent-events POST"],  # kind=consent or reconsent
    "participant-withdraw": ["api-participant-consent-events POST"],  # kind=withdrawal
    "participant-purge-retry": ["api-participant-purge POST"],
    "consent-correct": ["api-participant-consent-events POST"],  # kind=correction
    "consent-signed-form": ["api-consent-signed-form POST"],
    "consent-dashboard": ["api-consent-dashboard GET", "api-consent-event-list GET"],
    "consent-form-list": ["api-consent-form-list GET", "api-consent-form-detail GET"],
    "consent-form-create": ["api-consent-form-list POST"],
    "consent-import": ["api-import-consent POST"],
    "sampling-frame": ["api-sampling-frame GET", "api-sampling-frame PUT"],
    # Codebook ----------------------------------------------------------------------------------------
    "codebook": ["api-code-list GET", "api-code-tree GET"],
    "code-create": ["api-code-list POST", "api-code-propose POST"],
    "codebook-import": ["api-code-import POST"],
    "codebook-export": ["api-code-export GET"],
    "code-detail": ["api-code-detail GET", "api-code-comment-list GET"],
    "code-edit": ["api-code-detail PATCH"],
    "code-move": ["api-code-move POST"],
    "code-merge": ["api-code-merge POST"],
    "code-delete": ["api-code-detail DELETE"],
    "code-segments": ["api-code-segments GET"],
    # Coding, memos, double coding, agreement ---------------------------------------------------------
    "coding-page": ["api-transcript-detail GET", "api-coding-list GET", "api-coding-list POST",
                    "api-coding-detail PATCH", "api-coding-detail DELETE", "api-coding-bulk-delete POST"],
    "coding-stream": ["api-coding-events GET"],
    "coding-disagreements": ["api-disagreement-list GET"],
    "disagreement-comment": ["api-disagreement-comment POST"],
    "disagreement-resolve": ["api-disagreement-resolve POST"],
    "memo-list": ["api-memo-list GET", "api-memo-list POST"],
    "memo-edit": ["api-memo-detail PATCH"],
    "memo-delete": ["api-memo-detail DELETE"],
    "coding-export": ["api-coding-export POST"],
    "double-coding": ["api-assignment-list GET", "api-assignment-list POST", "api-assignment-done POST",
                      "api-agreement GET", "api-agreement-report POST"],
    "agreement-report-download": ["api-agreement-report-download GET"],
    # Transcripts, search, redaction ------------------------------------------------------------------
    "transcript-list": ["api-transcript-list GET"],
    "transcript-upload": ["api-transcript-upload POST", "api-transcript-list POST"],
    "transcript-import": ["api-transcript-import GET"],
    "transcript-import-commit": ["api-transcript-import-commit POST"],
    "transcript-import-cancel": ["api-transcript-import-cancel POST"],
    "transcript-search": ["api-transcript-search GET"],
    "transcript-detail": ["api-transcript-detail GET"],
    "transcript-replace": ["api-transcript-edits POST"],  # kind=replace
    "transcript-replace-all": ["api-transcript-edits POST"],  # kind=replace_all
    "transcript-history": ["api-transcript-edits GET"],
    "transcript-revert": ["api-transcript-revert POST"],
    "transcript-original": ["api-transcript-original GET"],
    "transcript-set-list": ["api-transcript-set-list GET", "api-transcript-set-list POST"],
    # Ticked transcripts, or all matching the list's filter (all_matching with group and site), into a set
    # or a new one (created with transcript_ids).
    "transcript-set-add": ["api-transcript-set-members POST", "api-transcript-set-list POST"],
    "transcript-set-detail": ["api-transcript-set-detail GET", "api-transcript-set-members GET"],
    "transcript-set-edit": ["api-transcript-set-detail PATCH"],
    "transcript-set-delete": ["api-transcript-set-detail DELETE"],
    "transcript-set-remove": ["api-transcript-set-members-remove POST"],
    # Themes, quotes, the board, comments -------------------------------------------------------------
    "theme-list": ["api-theme-list GET"],
    "theme-create": ["api-theme-list POST"],
    "theme-report": ["api-theme-report POST"],
    "theme-detail": ["api-theme-detail GET", "api-theme-segments GET", "api-theme-history GET",
                     "api-quote-list GET", "api-comment-list GET"],
    "theme-edit": ["api-theme-detail PATCH"],
    "theme-delete": ["api-theme-detail DELETE"],
    "theme-quote-create": ["api-quote-list POST"],
    "theme-quote-edit": ["api-quote-detail PATCH"],
    "theme-quote-remove": ["api-quote-detail DELETE"],
    "board": ["api-board GET"],
    "board-settings": ["api-board-settings GET", "api-board-settings PUT"],
    "board-theme": ["api-theme-detail GET", "api-quote-list GET", "api-comment-list GET"],
    "board-react": ["api-theme-reaction PUT"],
    "board-comment-create": ["api-comment-list POST"],
    # The comment pages serve theme and code comments alike; the API has an endpoint family for each.
    "board-comment-edit": ["api-comment-detail PATCH", "api-code-comment-detail PATCH"],
    "board-comment-delete": ["api-comment-detail DELETE", "api-code-comment-detail DELETE"],
    "board-comment-resolve": ["api-comment-resolve POST", "api-code-comment-resolve POST"],
    "code-comment-create": ["api-code-comment-list POST"],
    "notifications": ["api-notifications GET"],
    "board-digest": ["api-digest GET", "api-digest PUT"],
    "board-suggestion-decide": ["api-suggestion-decision POST"],
    # Matrices ----------------------------------------------------------------------------------------
    "matrix-list": ["api-matrix-list GET", "api-matrix-list POST"],
    "matrix-detail": ["api-matrix-detail GET"],
    "matrix-refresh": ["api-matrix-refresh POST"],
    "matrix-cell": ["api-matrix-cell GET"],
    "matrix-export": ["api-matrix-export GET"],
    "matrix-cancel": ["api-matrix-cancel POST"],
    "framework-list": ["api-framework-list GET", "api-framework-list POST"],
    "framework-detail": ["api-framework-detail GET"],
    "framework-delete": ["api-framework-detail DELETE"],
    "framework-cell": ["api-framework-cell GET", "api-framework-cell PUT", "api-framework-segments GET"],
    "framework-export": ["api-framework-export GET", "api-framework-export POST"],
    # Jobs --------------------------------------------------------------------------------------------
    "job-list": ["api-job-list GET"],
    "job-detail": ["api-job-detail GET"],
    "job-download": ["api-job-download GET"],
    "job-cancel": ["api-job-cancel POST"],
    "job-retry": ["api-job-retry POST"],
    # REFI-QDA projects -------------------------------------------------------------------------------
    "project-import": ["api-project-import-list POST", "api-project-import-new-study POST"],
    "project-import-detail": ["api-project-import-detail GET", "api-project-import-detail PATCH"],
    "project-import-start": ["api-project-import-start POST"],
    "project-import-cancel": ["api-project-import-cancel POST"],
    "project-export": ["api-project-export-preview POST", "api-project-export POST"],
}

# Pages with no API counterpart, on purpose.
NAVIGATION: dict[str, str] = {
    "home": "redirects to the study list (api-study-list)",
    "csp-report": "browsers post Content-Security-Policy violation reports; not a user capability",
    "login": "the API authenticates with a token made on the account page (or the session), not a password",
    "logout": "the API has no session to end; revoking the token on the account page stops it",
    "account": "tokens are made and revoked there by a person signed in with a password: a token must not "
               "be able to mint its own successors; who you are is api-me",
    "password_change": "passwords are changed by the person, signed in, in the browser (not with a token)",
    "password_change_done": "confirmation page of password_change",
    "password_reset": "password recovery by e-mail: a browser flow for someone without credentials",
    "password_reset_done": "confirmation page of password_reset",
    "password_reset_confirm": "the link from the password reset e-mail",
    "password_reset_complete": "confirmation page of password_reset_confirm",
}


# The Django admin (operators only, at /django-admin/) is not part of the product's pages.
_DJANGO_ADMIN = ("django.contrib.admin", "django.contrib.contenttypes")


def _page_names() -> set[str]:
    names = set()
    for p in walk(get_resolver().url_patterns):
        if not p.name or p.name.startswith("api-") or p.lookup_str.startswith(_DJANGO_ADMIN):
            continue
        names.add(p.name)
    return names


def _api_methods() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in walk(get_resolver().url_patterns):
        if p.name and p.name.startswith("api-"):
            cls = view_class(p)
            out[p.name] = {m.upper() for m in ("get", "post", "put", "patch", "delete") if cls and hasattr(cls, m)}
    return out


def test_every_page_has_an_api_counterpart_or_a_reason() -> None:
    pages = _page_names()
    missing = sorted(pages - set(COVERAGE) - set(NAVIGATION))
    assert not missing, "pages with no API operation listed in tests/test_api_coverage.py: " + ", ".join(missing)
    stale = sorted((set(COVERAGE) | set(NAVIGATION)) - pages)
    assert not stale, "the coverage table names pages that are not routed: " + ", ".join(stale)
    assert not set(COVERAGE) & set(NAVIGATION)


def test_every_listed_api_operation_exists() -> None:
    api = _api_methods()
    wrong = []
    for page, operations in COVERAGE.items():
        assert operations, page
        for operation in operations:
            name, method = operation.split()
            if name not in api:
                wrong.append(f"{page}: {name} is not routed")
            elif method not in api[name]:
                wrong.append(f"{page}: {name} does not implement {method}")
    assert not wrong, "\n".join(wrong)


def test_every_api_operation_serves_some_page() -> None:
    """The other direction: an API operation no page does is named here, so the table stays the whole map."""
    listed = {op.split()[0] for ops in COVERAGE.values() for op in ops}
    api_only = {
        "api-me", "api-group-list", "api-schema", "api-docs", "api-redoc",
    }
    unlisted = sorted(set(_api_methods()) - listed - api_only)
    assert not unlisted, "API operations no page is mapped to: " + ", ".join(unlisted)
