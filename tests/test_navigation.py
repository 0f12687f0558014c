"""The study navigation: what each role is offered, and which section is current on inner pages."""

import re

import pytest

NAV = {
    "admin": ["Overview", "Participants", "Consent", "Sampling", "Transcripts", "Search", "Transcript sets", "Codebook",
              "Themes", "Theme board", "Matrices", "Memos", "Double coding", "Members", "Jobs", "Audit log", "Settings"],
    "lead": ["Overview", "Participants", "Consent", "Sampling", "Transcripts", "Search", "Transcript sets", "Codebook", "Themes",
             "Theme board", "Matrices", "Memos", "Double coding", "Import project", "Export project", "Members", "Jobs"],
    "coder": ["Overview", "Participants", "Consent", "Sampling", "Transcripts", "Search", "Transcript sets", "Codebook", "Themes",
              "Theme board", "Matrices", "Memos", "Double coding", "Jobs"],
    "coder_other_site": ["Overview", "Participants", "Consent", "Sampling", "Transcripts", "Search", "Transcript sets", "Codebook",
                         "Themes", "Theme board", "Matrices", "Memos", "Double coding", "Jobs"],
    "ppi": ["Overview", "Theme board"],
}


def _block(html: str) -> str:
    return html.split('<ul class="study-nav">', 1)[1].split("</nav>", 1)[0]


def _nav(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", a).strip() for a in re.findall(r"<a [^>]*>.*?</a>", _block(html), re.S)]


def _current(html: str) -> list[str]:
    return re.findall(r'aria-current="page">([^<]+)<', _block(html))


def _groups(html: str) -> list[tuple[str, list[str]]]:
    """(heading, sections) in order; a section on its own has the heading ""."""
    out: list[tuple[str, list[str]]] = []
    for li in re.findall(r'<li class="nav-(?:group|single)[^"]*">.*?</li>\s*(?=<li class="nav-|</ul>\s*$)',
                         _block(html).rsplit("</ul>", 1)[0] + "</ul>", re.S):
        label = re.search(r'<span class="nav-group-label" id="([^"]+)">([^<]+)</span>', li)
        links = [re.sub(r"<[^>]+>", "", a).strip() for a in re.findall(r"<a [^>]*>.*?</a>", li, re.S)]
        if label:
            assert f'<ul aria-labelledby="{label.group(1)}">' in li  # the list is named by its heading
        out.append((label.group(2) if label else "", links))
    return out


GROUPS = {
    "lead": [("", ["Overview"]), ("Data", ["Participants", "Consent", "Sampling", "Transcripts", "Search", "Transcript sets"]),
             ("Analysis", ["Codebook", "Themes", "Theme board", "Matrices", "Memos", "Double coding"]),
             ("Study", ["Import project", "Export project", "Members", "Jobs"])],
    "admin": [("", ["Overview"]), ("Data", ["Participants", "Consent", "Sampling", "Transcripts", "Search", "Transcript sets"]),
              ("Analysis", ["Codebook", "Themes", "Theme board", "Matrices", "Memos", "Double coding"]),
              ("Study", ["Members", "Jobs", "Audit log", "Settings"])],
    "coder": [("", ["Overview"]), ("Data", ["Participants", "Consent", "Sampling", "Transcripts", "Search", "Transcript sets"]),
              ("Analysis", ["Codebook", "Themes", "Theme board", "Matrices", "Memos", "Double coding"]),
              ("Study", ["Jobs"])],
    # Headings over a two-item menu only add words: the PPI member's sections stand on their own.
    "ppi": [("", ["Overview"]), ("", ["Theme board"])],
}


@pytest.mark.parametrize("role", list(GROUPS))
def test_sections_are_grouped_under_headings(cast, clients, role):
    """Up to 17 sections for a lead, under Data, Analysis and Study headings: every one still a link
    in the page (no script, nothing folded away), in the same order as before."""
    html = clients[role].get(f"/studies/{cast.study.pk}/").content.decode()
    groups = _groups(html)
    assert groups == GROUPS[role]
    assert [s for _, sections in groups for s in sections] == NAV[role]


def test_the_current_sections_heading_is_marked(cast, clients):
    html = clients["lead"].get(f"/studies/{cast.study.pk}/codebook/").content.decode()
    assert re.search(r'<li class="nav-group nav-group-current"><span class="nav-group-label" id="[^"]+">Analysis<',
                     html)
    assert html.count("nav-group-current") == 1


@pytest.mark.parametrize("role", list(NAV))
def test_each_role_is_offered_its_sections(cast, clients, role):
    r = clients[role].get(f"/studies/{cast.study.pk}/")
    assert _nav(r.content.decode()) == NAV[role]


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("members/{admin_m}/", "Members"),
        ("search/", "Search"),
        ("transcript-sets/", "Transcript sets"),
        ("codebook/new/", "Codebook"),
        ("participants/new/", "Participants"),
        ("consent/forms/", "Consent"),
        ("themes/new/", "Themes"),
        ("board/settings/", "Theme board"),
        ("jobs/", "Jobs"),
        ("matrices/", "Matrices"),
        ("memos/{memo}/edit/", "Memos"),
    ],
)
def test_inner_pages_mark_their_section(cast, clients, path, section):
    memo = ""
    if "{memo}" in path:
        from analysis.coding.services.memos import memo_create

        memo = str(memo_create(actor=cast.users["lead"], study_id=cast.study.pk, title="Plan").pk)
    url = f"/studies/{cast.study.pk}/" + path.format(admin_m=cast.memberships["coder"].pk, memo=memo)
    r = clients["lead"].get(url) if section in ("Codebook", "Themes", "Memos") else clients["admin"].get(url)
    assert r.status_code == 200, url
    assert _current(r.content.decode()) == [section]
