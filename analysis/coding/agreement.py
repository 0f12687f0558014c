"""Inter-coder agreement between two coders, at character level. Pure functions, no database.

Input: for each transcript, its length ``N`` in code points and, per coder, a mapping
``code id -> list of [start, end) spans`` (code points, half-open, the REFI-QDA convention).

Unitisation (the same for every measure): **each character of a transcript is one unit per
code**, and each coder gives it one of two nominal values, *coded with this code* or *not*.
A coder's overlapping or adjacent spans of one code are unioned first (a character is coded or
not; coding it twice changes nothing). Nothing is weighted by segment. This is NVivo's coding
comparison; it is not Krippendorff's continuum uα, which compares segment boundaries.

For one code in one transcript the four counts are

    both    = |A ∩ B|          characters both coders coded
    a_only  = |A| − both        characters only coder A coded
    b_only  = |B| − both
    neither = N − |A ∪ B|       characters neither coded

and from them

* percent agreement  Po = (both + neither) / N
* Cohen's kappa      κ = (Po − Pe) / (1 − Pe),  Pe = pA·pB + (1 − pA)(1 − pB),  pA = |A|/N,  pB = |B|/N
  (the chance term over all characters of the transcript, as NVivo computes it)
* Krippendorff's alpha, nominal, two coders, no missing values. With n = 2N pairable values, the
  coincidence counts are o₁₁ = 2·both, o₀₀ = 2·neither, o₀₁ = o₁₀ = a_only + b_only, the value
  totals n₁ = 2·both + a_only + b_only and n₀ = 2·neither + a_only + b_only. Observed disagreement
  Dₒ = (o₀₁ + o₁₀)/n, expected De = 2·n₀·n₁ / (n(n − 1)), so
  α = 1 − Dₒ/De = 1 − (n − 1)·(a_only + b_only) / (n₀·n₁).

Several transcripts or several codes are *pooled*: their four counts are summed (so a code's
figure over a study is its figure over the concatenated transcripts, and the overall figure is
over every (code, character) unit), then the same formulas apply.

No variation: when every unit has the same value for both coders — neither coder used the code
(the usual case), or both coded every character — Pe = 1 and the coincidence matrix has one
value only, so κ and α are 0/0. Following NVivo, we report κ = α = 1 (the coders agree
completely) and flag the result ``no_variation=True`` so a report can say "not used by either
coder" rather than celebrate a perfect score. An empty transcript (N = 0) gives N = 0 counts and
is ignored when pooling. Percent agreement is then 100 %, which is also flagged by ``no_variation``.

Cost: per code and transcript, O(k log k) for k spans (sort, then a linear sweep), never a
loop over characters.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Span = tuple[int, int]
Spans = Sequence[Sequence[int]]


def spans_union(spans: Spans, *, length: int) -> list[Span]:
    """Sorted, disjoint, non-empty spans covering what ``spans`` cover. Raises ValueError for a span
    outside ``[0, length]`` or ending before it starts (clear input errors, never clipped quietly)."""
    cleaned: list[Span] = []
    for span in spans:
        start, end = int(span[0]), int(span[1])
        if start < 0 or end > length or end < start:
            raise ValueError(f"span [{start}, {end}) is not within a text of {length} characters")
        if end > start:
            cleaned.append((start, end))
    cleaned.sort()
    out: list[Span] = []
    for start, end in cleaned:
        if out and start <= out[-1][1]:  # overlapping or touching: extend
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def spans_length(spans: Sequence[Span]) -> int:
    return sum(end - start for start, end in spans)


def spans_overlap(a: Sequence[Span], b: Sequence[Span]) -> int:
    """Characters in both of two unioned (sorted, disjoint) span lists: a two-pointer sweep."""
    i = j = total = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if end > start:
            total += end - start
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return total


@dataclass(frozen=True)
class Counts:
    """The 2×2 table of one code over some characters (one transcript, or pooled)."""

    both: int = 0
    a_only: int = 0
    b_only: int = 0
    neither: int = 0

    @property
    def total(self) -> int:
        return self.both + self.a_only + self.b_only + self.neither

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.both + other.both, self.a_only + other.a_only, self.b_only + other.b_only,
                      self.neither + other.neither)


@dataclass(frozen=True)
class Agreement:
    counts: Counts
    percent: float  # 0..100
    kappa: float
    alpha: float
    no_variation: bool

    @property
    def a_chars(self) -> int:
        return self.counts.both + self.counts.a_only

    @property
    def b_chars(self) -> int:
        return self.counts.both + self.counts.b_only

    def as_dict(self) -> dict[str, float | int | bool]:
        c = self.counts
        return {"characters": c.total, "both": c.both, "a_only": c.a_only, "b_only": c.b_only,
                "neither": c.neither, "percent_agreement": self.percent, "kappa": self.kappa,
                "alpha": self.alpha, "no_variation": self.no_variation}


def counts_for(*, spans_a: Spans, spans_b: Spans, length: int) -> Counts:
    a = spans_union(spans_a, length=length)
    b = spans_union(spans_b, length=length)
    len_a, len_b = spans_length(a), spans_length(b)
    both = spans_overlap(a, b)
    return Counts(both=both, a_only=len_a - both, b_only=len_b - both, neither=length - len_a - len_b + both)


def agreement_from_counts(counts: Counts) -> Agreement:
    n_chars = counts.total
    if n_chars == 0:
        return Agreement(counts, 100.0, 1.0, 1.0, True)
    agree = counts.both + counts.neither
    po = agree / n_chars
    p_a = (counts.both + counts.a_only) / n_chars
    p_b = (counts.both + counts.b_only) / n_chars
    pe = p_a * p_b + (1 - p_a) * (1 - p_b)
    disagree = counts.a_only + counts.b_only
    n = 2 * n_chars
    n1 = 2 * counts.both + disagree
    n0 = 2 * counts.neither + disagree
    if n0 == 0 or n1 == 0:  # one value only: both coded nothing, or both coded everything
        return Agreement(counts, 100.0, 1.0, 1.0, True)
    kappa = (po - pe) / (1 - pe)
    alpha = 1 - (n - 1) * disagree / (n0 * n1)
    return Agreement(counts, 100.0 * po, kappa, alpha, False)


def code_agreement(*, spans_a: Spans, spans_b: Spans, length: int) -> Agreement:
    """One code in one transcript."""
    return agreement_from_counts(counts_for(spans_a=spans_a, spans_b=spans_b, length=length))


@dataclass
class TranscriptCodings:
    """One transcript: its length and each coder's spans per code."""

    key: Hashable
    length: int
    coder_a: Mapping[Any, Spans]  # code id -> spans (Any: Mapping keys are invariant)
    coder_b: Mapping[Any, Spans]


@dataclass
class AgreementReport:
    per_transcript_code: dict[tuple[Hashable, Hashable], Agreement] = field(default_factory=dict)
    per_code: dict[Hashable, Agreement] = field(default_factory=dict)
    per_transcript: dict[Hashable, Agreement] = field(default_factory=dict)
    overall: Agreement = field(default_factory=lambda: agreement_from_counts(Counts()))


def agreement_report(transcripts: Iterable[TranscriptCodings], *, codes: Iterable[Hashable] | None = None) -> AgreementReport:
    """Agreement per (transcript, code), per code pooled over transcripts, per transcript pooled over
    codes, and overall pooled over both.

    ``codes`` lists the codes to compare; by default every code either coder used in any transcript.
    A listed code nobody used in a transcript contributes N "neither" characters there.
    """
    items = list(transcripts)
    code_list = list(dict.fromkeys(codes)) if codes is not None else list(
        dict.fromkeys(c for t in items for c in (*t.coder_a.keys(), *t.coder_b.keys()))
    )
    report = AgreementReport()
    per_code: dict[Hashable, Counts] = {c: Counts() for c in code_list}
    overall = Counts()
    for t in items:
        if t.length < 0:
            raise ValueError(f"transcript {t.key!r} has a negative length")
        t_counts = Counts()
        for code in code_list:
            counts = counts_for(spans_a=t.coder_a.get(code, ()), spans_b=t.coder_b.get(code, ()), length=t.length)
            report.per_transcript_code[(t.key, code)] = agreement_from_counts(counts)
            per_code[code] = per_code[code] + counts
            t_counts = t_counts + counts
        report.per_transcript[t.key] = agreement_from_counts(t_counts)
        overall = overall + t_counts
    report.per_code = {code: agreement_from_counts(c) for code, c in per_code.items()}
    report.overall = agreement_from_counts(overall)
    return report


@dataclass(frozen=True)
class Region:
    """One disagreement of one code: a maximal stretch ``[start, end)`` covered by either coder
    (their unioned spans merged) on which the two coders' codings differ. ``a`` and ``b`` are each
    coder's unioned spans inside it; ``a_only`` / ``b_only`` the characters only one of them coded."""

    start: int
    end: int
    a: tuple[Span, ...]
    b: tuple[Span, ...]
    a_only: int
    b_only: int


def disagreement_regions(*, spans_a: Spans, spans_b: Spans, length: int) -> list[Region]:
    """The regions of one code where two coders disagree, in text order.

    The same unitisation as the agreement measures: each coder's spans are unioned, the two unions
    are merged into connected stretches, and a stretch is a disagreement unless both coders' unions
    inside it are identical. Touching spans of one coder count as one, so a region's characters are
    exactly the ``a_only + b_only`` of :func:`counts_for` restricted to it (summed over regions they
    equal the code's ``a_only + b_only``)."""
    a = spans_union(spans_a, length=length)
    b = spans_union(spans_b, length=length)
    out: list[Region] = []
    i = j = 0
    for start, end in spans_union([*a, *b], length=length):
        # A stretch of the merged union holds whole spans of each coder's union (a linear sweep).
        i0, j0 = i, j
        while i < len(a) and a[i][1] <= end:
            i += 1
        while j < len(b) and b[j][1] <= end:
            j += 1
        in_a, in_b = tuple(a[i0:i]), tuple(b[j0:j])
        if in_a == in_b:
            continue
        both = spans_overlap(in_a, in_b)
        out.append(Region(start, end, in_a, in_b, spans_length(in_a) - both, spans_length(in_b) - both))
    return out
