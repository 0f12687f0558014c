"""Demo content: a handful of short transcripts for the demo participants (idempotent)."""

from __future__ import annotations

import random

from accounts.models import Study, User
from analysis.transcripts.importers import parse_transcript
from analysis.transcripts.models import Transcript
from analysis.transcripts.services.transcripts import transcript_create
from participants.consent_rules import DataUse, data_use_allowed
from participants.models import Participant

QUESTIONS = [
    "Can you tell me about your contact with services since March?",
    "How did the appointments usually happen?",
    "What was that like for you?",
    "Was there anything that worked well?",
    "And what was more difficult?",
    "If you could change one thing, what would it be?",
]
ANSWERS = [
    "Not having to get two buses to the clinic made a real difference.",
    "On the phone you cannot see if someone is tearful, so I worried they would miss things.",
    "There was nowhere at home where my family could not hear me, so I did sessions in the car.",
    "Video let me at least see a face, which the phone never did.",
    "I was not sent the link for the review meeting, and nobody spoke to me on speakerphone.",
    "We were given no training, we just had to get on with it.",
    "My neighbour Zoë said the same thing, actually. She sent me a 👍 afterwards.",
    "I want to be asked which way suits me, not told.",
    "The signal in that village is so poor the call kept dropping.",
    "Because I already knew my care coordinator the phone calls felt normal.",
]


def _text(participant: Participant, rng: random.Random) -> str:
    mode = str((participant.attributes or {}).get("interview_mode", "telephone"))
    date = participant.interview_date.isoformat() if participant.interview_date else ""
    lines = [f"Interview {participant.pseudonym}, {mode}, {date}".rstrip(", "), ""]
    for q in rng.sample(QUESTIONS, 5):
        lines.append(f"Interviewer: {q}")
        lines.append(f"{participant.pseudonym}: {' '.join(rng.sample(ANSWERS, rng.randint(2, 4)))}")
        lines.append("")
    return "\n".join(lines)


def load_transcripts(study: Study, users_by_email: dict[str, User]) -> None:
    lead = users_by_email.get("lead@demo.chorus") or next(iter(users_by_email.values()))
    rng = random.Random(4)
    participants = Participant.objects.filter(study=study).order_by("pseudonym")
    for p in participants[:24]:
        if Transcript.objects.filter(participant=p).exists():
            continue
        if not data_use_allowed(participant=p, use=DataUse.TRANSCRIPT_ADD):
            continue
        data = _text(p, rng).encode("utf-8")
        parsed = parse_transcript(data, filename=f"{p.pseudonym}.txt", pseudonym=p.pseudonym)
        transcript_create(actor=lead, study_id=study.pk, participant_id=p.pk, parsed=parsed, original=data,
                          original_name=f"{p.pseudonym}.txt", via="demo")


def load_transcript_sets(study: Study, users_by_email: dict[str, User]) -> None:
    """A transcript set to start from: the telephone interviews (made by the lead, once)."""
    from analysis.transcripts.models import TranscriptSet
    from analysis.transcripts.sets.services import transcript_set_create

    lead = users_by_email.get("lead@demo.chorus") or next(iter(users_by_email.values()))
    if TranscriptSet.objects.filter(study=study, name="Telephone interviews").exists():
        return
    ids = [t.pk for t in Transcript.objects.filter(study=study).select_related("participant")
           if (t.participant.attributes or {}).get("interview_mode") == "telephone"]
    transcript_set_create(actor=lead, study_id=study.pk, name="Telephone interviews", transcript_ids=ids,
                          description="Interviews held by telephone: compare them with the video ones.")
