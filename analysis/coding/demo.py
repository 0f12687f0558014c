"""Demo step (settings.CHORUS_DEMO_STEPS): a small codebook for the demo study.

Idempotent: it goes through the codebook import, which matches by path, so running it again
creates nothing twice; it only restores a demo code's definition if someone changed it.
"""

from __future__ import annotations

from accounts.models import Study, User
from analysis.coding.services.codebook_import import (
    ParsedFile,
    codebook_import_commit,
    codebook_import_plan,
    item_from_path,
)

DEMO_CODEBOOK: list[tuple[str, dict[str, object]]] = [
    ("Experiences of remote care", {"is_codable": False, "description": "How care at a distance felt and worked."}),
    ("Experiences of remote care::Convenience", {
        "description": "Remote contact saved travel, time or money, or fitted around daily life.",
        "inclusion_criteria": "Travel, parking, time off work, fitting appointments in.",
        "exclusion_criteria": "Preferences between phone and video (use Telephone or video).",
        "example": "Not having to get two buses to the clinic made a real difference.",
    }),
    ("Experiences of remote care::Telephone or video", {
        "description": "Preferring the telephone or video, and why.",
    }),
    ("Therapeutic relationship", {"is_codable": False, "description": "The relationship between a person and their clinician."}),
    ("Therapeutic relationship::Loss of non-verbal cues", {
        "description": "Body language, eye contact or presence missing at a distance.",
        "inclusion_criteria": "Either side noticing what they could not see or sense.",
        "example": "You lose the body language, the way someone sits or looks away.",
    }),
    ("Therapeutic relationship::No safe space at home", {
        "description": "Home was not private or safe enough to talk freely.",
    }),
    ("Carers' involvement", {"description": "Carers being included in, or left out of, remote care."}),
    ("Digital exclusion", {
        "description": "No device, data, signal, skills or confidence to take part remotely.",
    }),
]


def load(study: Study, users: dict[str, User]) -> None:
    lead = users["lead@demo.chorus"]
    items = [item_from_path([path], row=i + 1, fields=dict(fields)) for i, (path, fields) in enumerate(DEMO_CODEBOOK)]
    parsed = ParsedFile(kind="demo", filename="demo codebook", items=items)
    summary = codebook_import_plan(study=study, parsed=parsed).summary()
    if summary["create"] or summary["update"]:  # nothing to do (and nothing to audit) on a re-run
        codebook_import_commit(actor=lead, study_id=study.pk, parsed=parsed)


DEMO_PHRASES: list[tuple[str, str]] = [
    ("Telephone or video", "phone"),
    ("Loss of non-verbal cues", "body language"),
    ("Convenience", "travel"),
    ("No safe space at home", "hear"),
    ("Digital exclusion", "signal"),
]


def load_codings(study: Study, users: dict[str, User]) -> None:
    """A few codings by the demo coder on the first transcripts, so the coding page, retrieval and
    the memo list have something to show. Idempotent: a transcript with codings is left alone."""
    from analysis.coding.models import Code, Coding
    from analysis.coding.services.codings import CodingFrozen, codings_bulk_create
    from analysis.transcripts.models import Transcript, TranscriptTurn

    coder = users.get("coder@demo.chorus")
    if coder is None:
        return
    codes = {c.name: c for c in Code.objects.filter(study=study, is_codable=True)}
    for t in Transcript.objects.filter(study=study).order_by("participant__pseudonym")[:6]:
        if Coding.objects.filter(transcript=t).exists():
            continue
        items = []
        turns = list(TranscriptTurn.objects.filter(transcript=t, role="participant").order_by("index")
                     .values_list("start", "text"))
        for name, word in DEMO_PHRASES:
            hit = next(((base, text, text.lower().find(word)) for base, text in turns if word in text.lower()), None)
            if name not in codes or hit is None:
                continue
            base, text, i = hit
            # The sentence around the word, within the participant's turn.
            start = text.rfind(". ", 0, i) + 2 if text.rfind(". ", 0, i) >= 0 else 0
            end = text.find(".", i)
            end = len(text) if end < 0 else end + 1
            items.append({"code": codes[name].pk, "start": base + start, "end": base + end})
        if items:
            try:
                codings_bulk_create(actor=coder, study_id=study.pk, transcript_id=t.pk, items=items)
            except CodingFrozen:
                continue


def load_double_coding(study: Study, users: dict[str, User]) -> None:
    """One transcript double coded by the demo coder (A) and the North coder (B), both done, so the
    agreement figures and the disagreements page have something to show: B codes the same sentences
    for most codes, a shorter stretch for one, and leaves one out. Idempotent: a study with an
    assignment is left alone."""
    from analysis.coding.models import Assignment, Coding
    from analysis.coding.services.assignments import assignment_create, assignment_mark_done
    from analysis.coding.services.codings import codings_bulk_create
    from analysis.transcripts.models import Transcript

    lead, a, b = (users.get(f"{who}@demo.chorus") for who in ("lead", "coder", "coder.north"))
    if lead is None or a is None or b is None or Assignment.objects.filter(study=study).exists():
        return
    # A North transcript the demo coder has coded (the North coder sees only North Trust).
    t = next((t for t in Transcript.objects.filter(study=study, participant__site__name="North Trust")
              .order_by("participant__pseudonym") if Coding.objects.filter(transcript=t, coder=a).count() >= 2), None)
    if t is None:
        return
    assignment_create(actor=lead, study_id=study.pk, transcript_id=t.pk, coder_a_id=a.pk, coder_b_id=b.pk)
    mine = list(Coding.objects.filter(transcript=t, coder=a).order_by("start"))
    items = [{"code": c.code_id, "start": c.start, "end": c.end} for c in mine[1:]]  # B leaves the first out
    last = items[-1]
    last["end"] = max(last["start"] + 1, last["end"] - (last["end"] - last["start"]) // 2)  # and stops halfway
    codings_bulk_create(actor=b, study_id=study.pk, transcript_id=t.pk, items=items)
    for coder in (a, b):
        assignment_mark_done(actor=coder, study_id=study.pk, transcript_id=t.pk)
