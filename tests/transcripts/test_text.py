"""The offset rule and re-anchoring: pure functions, thoroughly."""

from __future__ import annotations

import random

import pytest

from analysis.transcripts.text import (
    Edit,
    EditError,
    EditMap,
    SpanStatus,
    apply_edits,
    find_all,
    invert_edits,
    map_span,
    normalise_text,
)


def test_normalise_nfc_newlines_bom_controls() -> None:
    raw = "\ufeffCafe\u0301\r\nline two\rthree\u2028four  \n\n\x00"
    assert normalise_text(raw) == "Café\nline two\nthree\nfour"
    assert len(normalise_text("e\u0301")) == 1


def test_offsets_are_code_points() -> None:
    text = "a👍b"
    assert len(text) == 3
    assert text[1:2] == "👍"


def test_edit_before_span_shifts() -> None:
    assert map_span(10, 15, [Edit(0, 4, "[NAME]")]) == (12, 17, SpanStatus.UNCHANGED)


def test_edit_after_span_does_nothing() -> None:
    assert map_span(0, 5, [Edit(5, 9, "")]) == (0, 5, SpanStatus.UNCHANGED)


def test_covered_text_replaced_span_covers_replacement() -> None:
    text = "My coordinator John Smith phoned."
    s, e = text.index("John"), text.index("John") + len("John Smith")
    new = apply_edits(text, [Edit(s, e, "[NAME]")])
    m = map_span(s, e, [Edit(s, e, "[NAME]")])
    assert new[m.start:m.end] == "[NAME]"
    assert m.status == SpanStatus.CHANGED


def test_span_inside_replaced_text_covers_replacement() -> None:
    # A coding on "Smith" alone, when "John Smith" becomes [NAME], covers [NAME].
    m = map_span(20, 25, [Edit(15, 25, "[NAME]")])
    assert (m.start, m.end, m.status) == (15, 21, SpanStatus.CHANGED)


def test_span_entirely_inside_deleted_text_is_lost_not_dropped() -> None:
    m = map_span(20, 25, [Edit(15, 30, "")])
    assert m == (15, 15, SpanStatus.LOST)


def test_partial_overlap_at_start_and_end() -> None:
    # "Hello John Smith" coding [6, 16) "John Smith"; edit replaces [0, 10) "Hello John" → "Hi".
    assert map_span(6, 16, [Edit(0, 10, "Hi")]) == (0, 8, SpanStatus.CHANGED)
    # Edit overlapping the end: [12, 20) → "X"; span [6, 16) ends inside → end of replacement.
    assert map_span(6, 16, [Edit(12, 20, "X")]) == (6, 13, SpanStatus.CHANGED)


def test_edit_strictly_inside_span_changes_its_length() -> None:
    assert map_span(0, 20, [Edit(5, 10, "")]) == (0, 15, SpanStatus.CHANGED)


def test_insertions_at_boundaries_stay_outside() -> None:
    assert map_span(5, 10, [Edit(5, 5, "ab")]) == (7, 12, SpanStatus.UNCHANGED)
    assert map_span(5, 10, [Edit(10, 10, "ab")]) == (5, 10, SpanStatus.UNCHANGED)
    assert map_span(5, 10, [Edit(7, 7, "ab")]) == (5, 12, SpanStatus.CHANGED)


def test_empty_span_is_a_point() -> None:
    assert map_span(5, 5, [Edit(0, 2, "")]) == (3, 3, SpanStatus.UNCHANGED)


def test_several_edits_in_one_batch() -> None:
    text = "John met John and John."
    edits = [Edit(s, e, "[NAME]") for s, e in find_all(text, "John")]
    new = apply_edits(text, edits)
    assert new == "[NAME] met [NAME] and [NAME]."
    s = text.index("and")
    m = map_span(s, s + 3, edits)
    assert new[m.start:m.end] == "and"
    assert m.status == SpanStatus.UNCHANGED


def test_emoji_and_combining_characters() -> None:
    text = "Zoë 👍 said café\u0301 is fine"
    text = normalise_text(text)
    s = text.index("said")
    # Replace the emoji (one code point, two UTF-16 units) with a marker.
    e_at = text.index("👍")
    edits = [Edit(e_at, e_at + 1, "[EMOJI]")]
    new = apply_edits(text, edits)
    m = map_span(s, s + 4, edits)
    assert new[m.start:m.end] == "said"
    # A span over "Zoë" (ë precomposed after NFC) shifts by nothing and keeps its text.
    assert new[0:3] == "Zoë"


def test_overlapping_edits_refused() -> None:
    with pytest.raises(EditError):
        apply_edits("abcdef", [Edit(0, 3, "x"), Edit(2, 4, "y")])
    with pytest.raises(EditError):
        apply_edits("abc", [Edit(0, 9, "x")])


def test_find_all_whole_word_and_case() -> None:
    text = "John, johnny and JOHN."
    assert len(find_all(text, "john")) == 3
    assert len(find_all(text, "john", whole_word=True)) == 2
    assert find_all(text, "John", match_case=True, whole_word=True) == [(0, 4)]


def test_invert_restores_text_and_spans() -> None:
    text = "Alice met Bob at the Leeds clinic."
    edits = [Edit(0, 5, "[NAME]"), Edit(10, 13, "[NAME]"), Edit(21, 26, "[PLACE]")]
    new = apply_edits(text, edits)
    inverse = invert_edits(edits, [text[e.start:e.end] for e in edits])
    assert apply_edits(new, inverse) == text


def test_random_batches_keep_unchanged_text_under_spans() -> None:
    rng = random.Random(7)
    alphabet = "ab 👍é\n"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 40)))
        cuts = sorted(rng.sample(range(len(text) + 1), k=min(len(text) + 1, rng.randint(2, 6))))
        edits = [Edit(cuts[i], cuts[i + 1], rng.choice(["", "X", "[N]"])) for i in range(0, len(cuts) - 1, 2)]
        emap = EditMap(edits, len(text))
        new = apply_edits(text, edits)
        s = rng.randint(0, len(text))
        e = rng.randint(s, len(text))
        m = emap.map_span(s, e)
        assert 0 <= m.start <= m.end <= len(new)
        if m.status == SpanStatus.UNCHANGED:
            assert new[m.start:m.end] == text[s:e]
