"""Issue 11, first use as each role: what a first-time user tripped on, page by page.

Each test names the trip it pins down (the number in the issue)."""

from __future__ import annotations

import re

import pytest

from analysis.coding.services import codings as coding_services
from participants.models import ConsentState

from .conftest import span_of

pytestmark = pytest.mark.django_db


def _code_links(html: str, study_id: int, transcript_id: int) -> int:
    return len(re.findall(rf'href="/studies/{study_id}/transcripts/{transcript_id}/code/"[^>]*>Code\b', html))


# 1. A coder finds the coding page from every place a transcript is listed or read ---------------------


@pytest.mark.parametrize(("role", "sees_code"), [("lead", True), ("coder", True), ("admin", False)])
def test_transcript_list_offers_code_to_who_may_code(cast, clients, t_north, role, sees_code):
    html = clients[role].get(f"/studies/{cast.study.pk}/transcripts/").content.decode()
    assert (_code_links(html, cast.study.pk, t_north.pk) == 1) is sees_code


def test_scoped_coder_gets_code_links_only_in_scope(cast, clients, t_north, t_south):
    html = clients["coder_other_site"].get(f"/studies/{cast.study.pk}/transcripts/").content.decode()
    assert _code_links(html, cast.study.pk, t_south.pk) == 1
    assert _code_links(html, cast.study.pk, t_north.pk) == 0
    assert clients["coder_other_site"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/").status_code == 404


def test_reading_view_and_participant_page_offer_code(cast, clients, t_north, su01):
    reading = clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/").content.decode()
    assert "Code this transcript" in reading
    person = clients["coder"].get(f"/studies/{cast.study.pk}/participants/{su01.pk}/").content.decode()
    assert _code_links(person, cast.study.pk, t_north.pk) == 1


def test_search_results_offer_code(cast, clients, t_north):
    html = clients["coder"].get(f"/studies/{cast.study.pk}/search/?q=neighbour").content.decode()
    assert _code_links(html, cast.study.pk, t_north.pk) == 1


def test_no_code_link_when_consent_freezes_coding(cast, clients, t_north, su01):
    su01.consent_state = ConsentState.WITHDRAWN_RETAIN
    su01.save(update_fields=["consent_state"])
    html = clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/").content.decode()
    assert _code_links(html, cast.study.pk, t_north.pk) == 0
    reading = clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/").content.decode()
    assert "Code this transcript" not in reading
    assert "See the codings" in reading


# 3. Memos written on a coding appear on the Memos page ----------------------------------------------


def test_memo_written_on_a_coding_is_listed_on_the_memos_page(cast, clients, book, t_north):
    s, e = span_of(t_north, "cannot see if someone is tearful")
    c = coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                      code_id=book.cues.pk, start=s, end=e)
    coding_services.coding_update(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                  coding_id=c.pk, version=c.version, changes={"memo": "Tearfulness is invisible by phone"})
    html = clients["lead"].get(f"/studies/{cast.study.pk}/memos/").content.decode()
    assert "Tearfulness is invisible by phone" in html
    assert "No memos" not in html
    assert "cannot see if someone is tearful" in html  # the coded text, not its offsets
    assert f"[{s}, {e})" not in html
    found = clients["lead"].get(f"/studies/{cast.study.pk}/memos/?q=invisible&target=coding").content.decode()
    assert "Tearfulness is invisible by phone" in found
    # Scope: the coder of another site does not see SU01's coding memo.
    other = clients["coder_other_site"].get(f"/studies/{cast.study.pk}/memos/").content.decode()
    assert "Tearfulness" not in other


# 13. Admins have a Memos link (the page is theirs to read) ------------------------------------------


def test_admin_is_offered_memos_and_may_read_them(cast, clients):
    html = clients["admin"].get(f"/studies/{cast.study.pk}/").content.decode()
    assert f'href="/studies/{cast.study.pk}/memos/"' in html
    assert clients["admin"].get(f"/studies/{cast.study.pk}/memos/").status_code == 200
    assert clients["ppi"].get(f"/studies/{cast.study.pk}/memos/").status_code == 403


# 13. The search hint is honest about the embedded SQLite default -----------------------------------


def test_search_hint_matches_the_search_in_use(cast, clients):
    from django.db import connection

    html = clients["coder"].get(f"/studies/{cast.study.pk}/search/").content.decode()
    if connection.vendor == "postgresql":
        assert "find their other forms" in html
    else:
        assert "find their other forms" not in html
        assert "“phone” does not find “phoned”" in html


# 10. Each code of a study has its own colour while the palette lasts, readable and far apart ----------


def _lab(colour: str) -> tuple[float, float, float]:
    digits = colour[1:]
    lin = [(c / 12.92) if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
           for c in (int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))]
    x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_palette_is_readable_and_distinct():
    import itertools
    import math

    from analysis.coding.colours import PALETTE, contrast_ratio

    assert all(contrast_ratio(c, "#ffffff") >= 4.5 for c in PALETTE)  # white label text, WCAG AA
    closest = min(math.dist(_lab(a), _lab(b)) for a, b in itertools.combinations(PALETTE, 2))
    assert closest >= 30  # no two near-identical colours (plum and pink were 21.5 apart)


def test_new_codes_take_unused_colours(cast, book):
    from analysis.coding.colours import PALETTE
    from analysis.coding.models import Code
    from analysis.coding.services import codebook as codebook_services

    lead, sid = cast.users["lead"], cast.study.pk
    made = [codebook_services.code_create(actor=lead, study_id=sid, name=f"Code {i}") for i in range(7)]
    colours = list(Code.objects.filter(study=cast.study).values_list("colour", flat=True))
    assert len(colours) == len(PALETTE) == len(set(colours))  # 5 from the book + 7: every colour once
    # A deleted code's colour is the one a new code gets, not a duplicate of a colour in use.
    freed = made[2].colour
    codebook_services.code_delete(actor=lead, study_id=sid, code_id=made[2].pk, confirm=True)
    assert codebook_services.code_create(actor=lead, study_id=sid, name="Replacement").colour == freed


# New code from here: leads create, coders propose, others may not ------------------------------------


@pytest.mark.parametrize(("role", "status", "proposed"), [
    ("lead", 201, False), ("coder", 201, True), ("coder_other_site", 201, True), ("admin", 403, None),
    ("ppi", 403, None), ("outsider", 404, None),
])
def test_new_code_from_the_coding_page(cast, api, clients, book, role, status, proposed):
    from analysis.coding.models import Code

    r = api[role].post(f"/api/v1/studies/{cast.study.pk}/codes/propose/", {"name": "Waiting for a call back"},
                       format="json")
    assert r.status_code == status, r.content
    code = Code.objects.filter(study=cast.study, name="Waiting for a call back").first()
    if status != 201:
        assert code is None
        return
    assert code.proposed is proposed
    assert r.json()["proposed"] is proposed
    assert code.created_by == cast.users[role]
    html = clients["lead"].get(f"/studies/{cast.study.pk}/codebook/").content.decode()
    assert ("proposed by a coder" in html) is proposed
    # Bad input: a NUL or an over-long name is a clear 400, nothing written.
    assert api[role].post(f"/api/v1/studies/{cast.study.pk}/codes/propose/", {"name": "a\x00b"},
                          format="json").status_code == 400
    assert api[role].post(f"/api/v1/studies/{cast.study.pk}/codes/propose/", {"name": "x" * 201},
                          format="json").status_code == 400
    assert api[role].post(f"/api/v1/studies/{cast.study.pk}/codes/propose/", {"name": "Waiting for a call back"},
                          format="json").status_code == 400  # the name is taken


def test_a_leads_edit_accepts_a_proposed_code(cast, api, book):
    from analysis.coding.models import Code
    from analysis.coding.services import codebook as codebook_services

    api["coder"].post(f"/api/v1/studies/{cast.study.pk}/codes/propose/", {"name": "Call backs"}, format="json")
    code = Code.objects.get(name="Call backs")
    codebook_services.code_update(actor=cast.users["lead"], study_id=cast.study.pk, code_id=code.pk,
                                  version=code.version, changes={"description": "Waiting to be called back."})
    code.refresh_from_db()
    assert code.proposed is False


def test_coding_page_offers_new_code_only_to_who_may_define_codes(cast, clients, t_north):
    for role, offered in (("coder", True), ("lead", True), ("admin", False)):
        html = clients[role].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/code/").content.decode()
        assert ('id="new-code"' in html) is offered
        assert ("/codes/propose/" in html) is offered
