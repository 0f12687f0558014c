"""The study navigation: what each role is offered, and which section is current on inner pages."""

import re

import pytest

NAV = {
    "admin": ["Overview", "Participants", "Consent", "Sampling", "Transcripts", "Search", "Codebook",
              "Themes", "Theme board", "Matrices", "Memos", "Double coding", "Members", "Jobs", "Audit log", "Settings"],
    "lead": ["Overview", "Participants", "Consent", "Sampling", "Transcripts", "Search", "Codebook", "Themes",
             "Theme board", "Matrices", "Memos", "Double coding", "Import project", "Export project", "Members", "Jobs"],
    "coder": ["Overview", "Participants", "Consent", "Sampling", "Transcripts", "Search", "Codebook", "Themes",
              "Theme board", "Matrices", "Memos", "Double coding", "Jobs"],
    "coder_other_site": ["Overview", "Participants", "Consent", "Sampling", "Transcripts", "Search", "Codebook",
                         "Themes", "Theme board", "Matrices", "Memos", "Double coding", "Jobs"],
    "ppi": ["Overview", "Theme board"],
}


def _nav(html: str) -> list[str]:
    block = html.split('<ul class="study-nav">', 1)[1].split("</ul>", 1)[0]
    return [re.sub(r"<[^>]+>", "", a).strip() for a in re.findall(r"<a [^>]*>.*?</a>", block)]


def _current(html: str) -> list[str]:
    block = html.split('<ul class="study-nav">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'aria-current="page">([^<]+)<', block)


@pytest.mark.parametrize("role", list(NAV))
def test_each_role_is_offered_its_sections(cast, clients, role):
    r = clients[role].get(f"/studies/{cast.study.pk}/")
    assert _nav(r.content.decode()) == NAV[role]


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("members/{admin_m}/", "Members"),
        ("search/", "Search"),
        ("codebook/new/", "Codebook"),
        ("participants/new/", "Participants"),
        ("consent/forms/", "Consent"),
        ("themes/new/", "Themes"),
        ("board/settings/", "Theme board"),
        ("jobs/", "Jobs"),
        ("matrices/", "Matrices"),
    ],
)
def test_inner_pages_mark_their_section(cast, clients, path, section):
    url = f"/studies/{cast.study.pk}/" + path.format(admin_m=cast.memberships["coder"].pk)
    r = clients["lead"].get(url) if section in ("Codebook", "Themes") else clients["admin"].get(url)
    assert r.status_code == 200, url
    assert _current(r.content.decode()) == [section]
