"""Every template and script keeps to the Content-Security-Policy, so a new page cannot quietly need
'unsafe-inline': no style="" attribute, no on*= handler, no inline <script> or <style>, no
javascript: URL, no htmx hx-on (htmx evaluates it as code) or js: values; and the project's
JavaScript builds no style attributes in HTML strings and evaluates no strings. Code colours go
through data-colour (static/js/paint.js) or the CSSOM."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SKIP = {".venv", "var", "node_modules", ".git"}

TEMPLATE_RULES = {
    "a style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I | re.S),
    "an inline event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I | re.S),
    "an inline script": re.compile(r"<script(?![^>]*\bsrc\s*=)(?![^>]*type\s*=\s*[\"']application/(?:ld\+)?json)[^>]*>", re.I),
    "a <style> element": re.compile(r"<style[\s>]", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
    "an htmx hx-on handler": re.compile(r"\shx-on", re.I),
    "htmx values evaluated as code": re.compile(r"hx-(?:vals|vars|headers)\s*=\s*[\"']\s*(?:js|javascript):", re.I),
}
SCRIPT_RULES = {
    "a style attribute in built HTML": re.compile(r"style\s*=\s*\\?[\"'`]", re.I),
    "setAttribute('style')": re.compile(r"setAttribute\(\s*[\"'`]style", re.I),
    "an inline handler in built HTML": re.compile(r"<[^>]*\son[a-z]+\s*=\s*\\?[\"'`]", re.I),
    "eval()": re.compile(r"(?<![\w.])eval\s*\("),
    "new Function()": re.compile(r"new\s+Function\s*\("),
    "a string given to setTimeout/setInterval": re.compile(r"set(?:Timeout|Interval)\(\s*[\"'`]"),
}


def project_files(*suffixes: str) -> list[Path]:
    out = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in SKIP or "vendor" in rel.parts or not path.is_file():
            continue
        if path.suffix in suffixes and (path.suffix != ".html" or "templates" in rel.parts):
            out.append(path)
    return sorted(out)


def without_comments(text: str) -> str:
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
    text = re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", "", text, flags=re.S)
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)


def problems(text: str, rules: dict[str, re.Pattern[str]]) -> list[str]:
    return [f"line {line}: {what}: {found!r}" for what, line, found in findings(text, rules)]


def findings(text: str, rules: dict[str, re.Pattern[str]]) -> list[tuple[str, int, str]]:
    return [
        (what, text.count("\n", 0, m.start()) + 1, m.group(0)[:80])
        for what, rule in rules.items() for m in rule.finditer(text)
    ]


TEMPLATES = project_files(".html")
SCRIPTS = project_files(".js")


def test_the_scan_finds_the_templates_and_scripts() -> None:
    names = {p.name for p in TEMPLATES}
    assert {"base.html", "coding_page.html", "swagger_ui.html"} <= names
    assert {"coder.js", "paint.js", "reading.js"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_template_has_nothing_inline(path: Path) -> None:
    found = problems(without_comments(path.read_text()), TEMPLATE_RULES)
    assert not found, f"{path.relative_to(ROOT)} would break under the Content-Security-Policy:\n" + "\n".join(found)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_script_builds_nothing_inline(path: Path) -> None:
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    found = problems(text, SCRIPT_RULES)
    assert not found, f"{path.relative_to(ROOT)} would break under the Content-Security-Policy:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("snippet", "what"),
    [
        ('<span class="x" style="color: red">', "a style attribute"),
        ("<button\n  onclick=\"go()\">", "an inline event handler"),
        ("<script>alert(1)</script>", "an inline script"),
        ('<script type="module">import x from "/y.js"</script>', "an inline script"),
        ("<style>p { color: red }</style>", "a <style> element"),
        ('<a href="javascript:go()">', "a javascript: URL"),
        ('<form hx-on:submit="go()">', "an htmx hx-on handler"),
        ("<div hx-vals='js:{a: go()}'>", "htmx values evaluated as code"),
    ],
)
def test_the_template_rules_catch_what_they_should(snippet: str, what: str) -> None:
    assert what in {w for w, _line, _text in findings(snippet, TEMPLATE_RULES)}, snippet


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="/static/js/paint.js" defer></script>',
        '<script id="cfg" type="application/json">{"a": 1}</script>',
        '<span class="code-chip" data-colour="#005eb8">',
        '<button class="button" data-online="1" hx-post="/x/">',
        "{# style=\"x\" in a comment #}",
    ],
)
def test_the_template_rules_let_safe_markup_through(snippet: str) -> None:
    assert not problems(without_comments(snippet), TEMPLATE_RULES), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        'el.innerHTML = `<span style="color:${c}">`;',
        'html += \'<li style="x">\';',
        'el.setAttribute("style", "color: red");',
        "eval(text);",
        'new Function("return 1");',
        'setTimeout("go()", 10);',
        'el.innerHTML = "<b onclick=\\"go()\\">";',
    ],
)
def test_the_script_rules_catch_what_they_should(snippet: str) -> None:
    assert problems(snippet, SCRIPT_RULES), snippet


def test_the_script_rules_allow_the_cssom() -> None:
    ok = 'el.style.setProperty("--c", colour); el.style.top = `${y}px`; span.dataset.label = name; setTimeout(f, 0);'
    assert not problems(ok, SCRIPT_RULES)
