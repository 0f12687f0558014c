"""The agreement service against hand-worked examples, edge cases, and an independent per-character
computation on the generator's two coders."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analysis.coding.agreement import (
    Counts,
    TranscriptCodings,
    agreement_from_counts,
    agreement_report,
    code_agreement,
    counts_for,
    spans_overlap,
    spans_union,
)

from .qdpx import make_study, read_qdpx


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-12)


def test_partial_overlap_hand_worked():
    """N = 10, A = [0,4), B = [2,6).
    |A| = 4, |B| = 4, both = |[2,4)| = 2, a_only = 2, b_only = 2, neither = 10 − 4 − 4 + 2 = 4.
    Po = (2 + 4)/10 = 0.6;  pA = pB = 0.4;  Pe = 0.4·0.4 + 0.6·0.6 = 0.52;
    κ = (0.6 − 0.52)/(1 − 0.52) = 0.08/0.48 = 1/6.
    α: n = 2N = 20 values, disagreements d = 4, n₁ = 2·2 + 4 = 8, n₀ = 2·4 + 4 = 12;
    α = 1 − (n − 1)·d/(n₀·n₁) = 1 − 19·4/96 = 20/96."""
    r = code_agreement(spans_a=[(0, 4)], spans_b=[(2, 6)], length=10)
    assert r.counts == Counts(both=2, a_only=2, b_only=2, neither=4)
    assert close(r.percent, 60.0)
    assert close(r.kappa, 1 / 6)
    assert close(r.alpha, 20 / 96)
    assert not r.no_variation


def test_identical_codings_agree_perfectly():
    """N = 10, A = B = [0,5): both = 5, neither = 5, Po = 1, Pe = 0.25 + 0.25 = 0.5, κ = 0.5/0.5 = 1;
    no disagreements, so α = 1 − 0 = 1."""
    r = code_agreement(spans_a=[(0, 5)], spans_b=[[0, 5]], length=10)
    assert (r.percent, r.kappa, r.alpha) == (100.0, 1.0, 1.0)


def test_disjoint_codings():
    """N = 10, A = [0,5), B = [5,10): both = 0, a_only = b_only = 5, neither = 0.
    Po = 0; pA = pB = 0.5; Pe = 0.25 + 0.25 = 0.5; κ = (0 − 0.5)/0.5 = −1.
    α: n = 20, d = 10, n₁ = 10, n₀ = 10; α = 1 − 19·10/100 = −0.9."""
    r = code_agreement(spans_a=[(0, 5)], spans_b=[(5, 10)], length=10)
    assert close(r.percent, 0.0)
    assert close(r.kappa, -1.0)
    assert close(r.alpha, -0.9)


def test_a_coders_overlapping_spans_are_unioned():
    """A codes [0,3), [2,5) and [5,6): overlapping and touching, so A = [0,6), |A| = 6 (not 7).
    B = [1,4). N = 10: both = 3, a_only = 3, b_only = 0, neither = 4.
    Po = 0.7; pA = 0.6, pB = 0.3; Pe = 0.18 + 0.28 = 0.46; κ = 0.24/0.54 = 4/9.
    α: n = 20, d = 3, n₁ = 2·3 + 3 = 9, n₀ = 2·4 + 3 = 11; α = 1 − 19·3/99 = 42/99."""
    assert spans_union([(0, 3), (2, 5), (5, 6)], length=10) == [(0, 6)]
    r = code_agreement(spans_a=[(0, 3), (2, 5), (5, 6)], spans_b=[(1, 4), (1, 4)], length=10)
    assert r.counts == Counts(both=3, a_only=3, b_only=0, neither=4)
    assert close(r.kappa, 4 / 9)
    assert close(r.alpha, 42 / 99)


def test_only_one_coder_used_the_code():
    """N = 10, A = [0,2), B = nothing: both = 0, a_only = 2, neither = 8.
    Po = 0.8; pA = 0.2, pB = 0; Pe = 0·0.2 + 1·0.8 = 0.8; κ = (0.8 − 0.8)/0.2 = 0.
    α: n = 20, d = 2, n₁ = 2, n₀ = 18; α = 1 − 19·2/36 = −1/18."""
    r = code_agreement(spans_a=[(0, 2)], spans_b=[], length=10)
    assert close(r.percent, 80.0)
    assert close(r.kappa, 0.0)
    assert close(r.alpha, -1 / 18)


def test_no_codings_by_either_coder_is_defined_and_flagged():
    """Neither coder used the code: every character is 'not coded' by both, Pe = 1 and κ, α are 0/0.
    Documented convention (NVivo's): κ = α = 1, percent = 100, flagged no_variation."""
    r = code_agreement(spans_a=[], spans_b=[], length=10)
    assert (r.percent, r.kappa, r.alpha, r.no_variation) == (100.0, 1.0, 1.0, True)
    everything = code_agreement(spans_a=[(0, 10)], spans_b=[(0, 10)], length=10)
    assert everything.no_variation
    assert everything.kappa == 1.0
    empty = code_agreement(spans_a=[], spans_b=[], length=0)
    assert empty.no_variation
    assert empty.counts.total == 0


def test_zero_length_spans_are_ignored_and_bad_spans_refused():
    assert spans_union([(3, 3), (4, 6)], length=10) == [(4, 6)]
    for bad in ([(-1, 2)], [(5, 11)], [(6, 5)]):
        with pytest.raises(ValueError, match="not within"):
            counts_for(spans_a=bad, spans_b=[], length=10)


def test_overlap_sweep():
    a = spans_union([(0, 10), (20, 30), (40, 50)], length=100)
    b = spans_union([(5, 25), (28, 45), (49, 100)], length=100)
    # [5,10) 5 + [20,25) 5 + [28,30) 2 + [40,45) 5 + [49,50) 1 = 18
    assert spans_overlap(a, b) == 18


def test_pooling_sums_the_tables():
    """Transcript 1 is the partial-overlap example (2, 2, 2, 4), transcript 2 the disjoint one
    (0, 5, 5, 0). Pooled for the code: both 2, a_only 7, b_only 7, neither 4, N = 20.
    Po = 6/20 = 0.3; pA = pB = 9/20 = 0.45; Pe = 0.2025 + 0.3025 = 0.505; κ = −0.205/0.495.
    Code 'y' is used by nobody: per code no_variation; it adds 20 'neither' characters overall:
    overall both 2, a_only 7, b_only 7, neither 24, N = 40: Po = 26/40."""
    report = agreement_report(
        [
            TranscriptCodings(key="t1", length=10, coder_a={"x": [(0, 4)]}, coder_b={"x": [(2, 6)]}),
            TranscriptCodings(key="t2", length=10, coder_a={"x": [(0, 5)]}, coder_b={"x": [(5, 10)]}),
        ],
        codes=["x", "y"],
    )
    x = report.per_code["x"]
    assert x.counts == Counts(2, 7, 7, 4)
    assert close(x.kappa, -0.205 / 0.495)
    assert report.per_code["y"].no_variation
    assert report.overall.counts == Counts(2, 7, 7, 24)
    assert close(report.overall.percent, 65.0)
    assert close(report.per_transcript_code[("t2", "x")].kappa, -1.0)
    assert report.per_transcript["t1"].counts == Counts(2, 2, 2, 14)


def test_default_codes_are_those_either_coder_used():
    report = agreement_report([TranscriptCodings(key=1, length=5, coder_a={"a": [(0, 1)]}, coder_b={"b": [(1, 2)]})])
    assert set(report.per_code) == {"a", "b"}
    assert agreement_from_counts(Counts()).no_variation


# Independent check on the generator's study --------------------------------------------------------


def _reference(text_len: int, spans_a: list[tuple[int, int]], spans_b: list[tuple[int, int]]) -> tuple[float, float, float]:
    """Deliberately naive: one boolean per character, counted in a Python loop; kappa from Po and Pe,
    alpha from an explicit coincidence matrix built unit by unit."""
    a = [False] * text_len
    b = [False] * text_len
    for s, e in spans_a:
        for i in range(s, e):
            a[i] = True
    for s, e in spans_b:
        for i in range(s, e):
            b[i] = True
    agree = sum(1 for i in range(text_len) if a[i] == b[i])
    po = agree / text_len
    pa = sum(a) / text_len
    pb = sum(b) / text_len
    pe = pa * pb + (1 - pa) * (1 - pb)
    kappa = 1.0 if pe == 1 else (po - pe) / (1 - pe)
    o = {(0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 0}
    for i in range(text_len):
        va, vb = int(a[i]), int(b[i])
        o[(va, vb)] += 1  # each unit has two values, so two ordered pairs, each weighted 1/(m−1) = 1
        o[(vb, va)] += 1
    n_c = {c: o[(c, 0)] + o[(c, 1)] for c in (0, 1)}
    n = n_c[0] + n_c[1]
    d_o = (o[(0, 1)] + o[(1, 0)]) / n
    d_e = (n_c[0] * n_c[1] + n_c[1] * n_c[0]) / (n * (n - 1))
    alpha = 1.0 if d_e == 0 else 1 - d_o / d_e
    return 100 * po, kappa, alpha


@pytest.fixture(scope="module")
def generated(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = make_study(shared_dir, tmp_path_factory.mktemp("study"), participants=8, chars=12000, seed=7)
    return read_qdpx(out / "study.qdpx")


def test_against_an_independent_per_character_computation(generated):
    texts, selections, names = generated
    assert set(selections) == {"coder_a", "coder_b"}
    checked = 0
    for source in sorted(texts)[:4]:
        text = texts[source]
        a = selections["coder_a"].get(source, {})
        b = selections["coder_b"].get(source, {})
        for code in sorted(set(a) | set(b)):
            mine = code_agreement(spans_a=a.get(code, []), spans_b=b.get(code, []), length=len(text))
            percent, kappa, alpha = _reference(len(text), a.get(code, []), b.get(code, []))
            assert math.isclose(mine.kappa, kappa, abs_tol=1e-9), (source, names[code])
            assert math.isclose(mine.alpha, alpha, abs_tol=1e-9), (source, names[code])
            assert math.isclose(mine.percent, percent, abs_tol=1e-9), (source, names[code])
            checked += 1
    assert checked >= 10  # the study really was double coded


def test_report_pools_the_same_counts_as_the_reference(generated):
    texts, selections, _names = generated
    sources = sorted(texts)[:3]
    report = agreement_report(
        TranscriptCodings(key=s, length=len(texts[s]), coder_a=selections["coder_a"].get(s, {}),
                          coder_b=selections["coder_b"].get(s, {}))
        for s in sources
    )
    for code, result in report.per_code.items():
        # Pooling = concatenating the transcripts: shift each transcript's spans by the lengths before it.
        offset, pooled_a, pooled_b = 0, [], []
        for s in sources:
            pooled_a += [(x + offset, y + offset) for x, y in selections["coder_a"].get(s, {}).get(code, [])]
            pooled_b += [(x + offset, y + offset) for x, y in selections["coder_b"].get(s, {}).get(code, [])]
            offset += len(texts[s])
        _p, kappa, alpha = _reference(offset, pooled_a, pooled_b)
        assert math.isclose(result.kappa, kappa, abs_tol=1e-9)
        assert math.isclose(result.alpha, alpha, abs_tol=1e-9)
