"""Demo step (settings.CHORUS_DEMO_STEPS): a small codebook for the demo study.

Idempotent: it goes through the codebook import, which matches by path, so running it again
creates nothing twice; it only restores a demo code's definition if someone changed it.
"""

from __future__ import annotations

from accounts.models import Study, User

from .importing import ParsedFile, codebook_import_commit, codebook_import_plan, item_from_path

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
