"""Demo step (settings.CHORUS_DEMO_STEPS): themes, curated quotes and a PPI conversation, so the demo
PPI login finds a useful board. Idempotent: a study that already has themes is left alone.

Everything goes through the services, so consent decides which segments can become quotes exactly as
it does for a real lead (SU02 said no to quotes: none of theirs appear)."""

from __future__ import annotations

from accounts.models import Study, User
from analysis.coding.models import Code, Coding
from analysis.themes.models import Theme
from analysis.themes.services import board as board_services
from analysis.themes.services import comments as comment_services
from analysis.themes.services import quotes as quote_services
from analysis.themes.services import themes as theme_services
from participants.consent_rules import DataUse, participants_usable_q

SUPPORT_LINE = (
    "You can talk to Leo (the study lead) on 0113 496 0000, Monday to Friday, 9am to 5pm. "
    "At any time, day or night, you can call Samaritans free on 116 123."
)

# name, codes, status, on board, parent, team description, plain description, content note on quotes
DEMO_THEMES: list[tuple[str, list[str], str, bool, str, str, str, str]] = [
    ("Seeing each other at a distance", ["Loss of non-verbal cues"], "final", True, "",
     "Both sides missed body language, eye contact and presence; clinicians felt less able to judge risk.",
     "On the phone or on video, people and staff could not see each other properly. They missed the small "
     "signs, like a look or a pause, that show how someone is really feeling.", ""),
    ("Choosing the phone or video", ["Telephone or video"], "reviewed", True, "Seeing each other at a distance",
     "Preferences between telephone and video, and what they were based on.",
     "Some people found the phone easier, others liked seeing a face on video. It helped when they could choose.",
     ""),
    ("Fitting care around life", ["Convenience"], "reviewed", True, "",
     "Remote contact saved travel, time and money and fitted around work and caring.",
     "Appointments from home saved long journeys, time off work and money. This made care easier to keep up.",
     ""),
    ("No safe space to talk at home", ["No safe space at home"], "candidate", True, "",
     "Home was not private or safe enough to speak freely; others could overhear.",
     "Some people could not talk freely at home because others might hear. For a few, home did not feel safe.",
     "mentions feeling unsafe at home"),
    ("Left out by technology", ["Digital exclusion"], "candidate", False, "",
     "No device, data, signal, skills or confidence to take part remotely.", "", ""),
]


# The lead codes these sentences wherever participants said them, so every shared theme has segments
# from each group behind it (the coding demo step codes only a few transcripts).
LEAD_CODES: list[tuple[str, str]] = [("Loss of non-verbal cues", "tearful"), ("Convenience", "two buses")]


def _lead_codings(study: Study, lead: User) -> None:
    from analysis.coding.services.codings import CodingFrozen, codings_bulk_create
    from analysis.transcripts.models import Transcript, TranscriptTurn

    codes = {c.name: c for c in Code.objects.filter(study=study, name__in=[n for n, _ in LEAD_CODES])}
    for t in Transcript.objects.filter(study=study).filter(
            participants_usable_q(DataUse.CODING, prefix="participant__")).order_by("participant__pseudonym"):
        turns = list(TranscriptTurn.objects.filter(transcript=t, role="participant").order_by("index")
                     .values_list("start", "text"))
        items = []
        for name, words in LEAD_CODES:
            hit = next(((base, text, text.find(words)) for base, text in turns if words in text), None)
            if name not in codes or hit is None or Coding.objects.filter(transcript=t, code=codes[name]).exists():
                continue
            base, text, i = hit
            start = text.rfind(". ", 0, i) + 2 if text.rfind(". ", 0, i) >= 0 else 0
            end = text.find(".", i)
            items.append({"code": codes[name].pk, "start": base + start, "end": base + (len(text) if end < 0 else end + 1)})
        if items:
            try:
                codings_bulk_create(actor=lead, study_id=study.pk, transcript_id=t.pk, items=items)
            except CodingFrozen:
                continue


def _quotable(study: Study, code_names: list[str]) -> list[Coding]:
    codes = Code.objects.filter(study=study, name__in=code_names)
    return list(
        Coding.objects.filter(study=study, code__in=codes, lost=False)
        .filter(participants_usable_q(DataUse.PPI_SHARING, prefix="transcript__participant__"))
        .select_related("transcript__participant")
        .order_by("transcript__participant__pseudonym", "start", "id")
    )


def load(study: Study, users: dict[str, User]) -> None:
    lead, coder, ppi = (users.get(f"{who}@demo.chorus") for who in ("lead", "coder", "ppi"))
    if lead is None or coder is None or ppi is None or Theme.objects.filter(study=study).exists():
        return
    sid = study.pk
    _lead_codings(study, lead)
    made: dict[str, Theme] = {}
    for name, code_names, status, on_board, parent, description, plain, note in DEMO_THEMES:
        code_ids = list(Code.objects.filter(study=study, name__in=code_names).values_list("pk", flat=True))
        author = coder if not on_board else lead  # the team-only draft is a coder's proposal
        theme = theme_services.theme_create(
            actor=author, study_id=sid, name=name, description=description, plain_description=plain,
            status=status, on_board=on_board, parent_id=made[parent].pk if parent else None, code_ids=code_ids)
        made[name] = theme
        groups: set[int] = set()
        for coding in _quotable(study, code_names):  # one quote from each participant group
            if coding.transcript.participant.group_id in groups:
                continue
            groups.add(coding.transcript.participant.group_id)
            quote_services.quote_create(actor=lead, study_id=sid, theme_id=theme.pk, coding_id=coding.pk,
                                  content_note=note)
    board_services.board_settings_update(actor=lead, study_id=sid, support_line=SUPPORT_LINE)

    seeing, life = made["Seeing each other at a distance"], made["Fitting care around life"]
    comment_services.reaction_set(actor=ppi, study_id=sid, theme_id=seeing.pk, value="rings_true")
    comment_services.reaction_set(actor=ppi, study_id=sid, theme_id=life.pk, value="not_sure")
    first = comment_services.comment_create(
        actor=ppi, study_id=sid, theme_id=seeing.pk,
        body="This rings very true. On the phone my nurse could not tell I was struggling, and I was "
             "good at sounding fine.")
    comment_services.comment_create(
        actor=lead, study_id=sid, theme_id=seeing.pk, parent_id=first.pk,
        body="Thank you, Pat. Several people said the same about *sounding fine*; we have added it to the "
             "description of this theme.")
    comment_services.comment_resolve(actor=lead, study_id=sid, comment_id=first.pk, resolved=True)
    rename = comment_services.comment_create(
        actor=ppi, study_id=sid, theme_id=life.pk, kind="rename", suggested_name="Care that fits around my life",
        body="“Fitting care around life” sounds like the service talking. Could it be in our words?")
    comment_services.suggestion_decide(actor=lead, study_id=sid, comment_id=rename.pk, accept=True,
                               reason="The group agreed it is clearer and closer to what people said.")
    comment_services.comment_create(
        actor=ppi, study_id=sid, theme_id=life.pk, kind="new_theme", suggested_name="The cost of calls and data",
        body="Some people I know ran out of phone credit in the middle of appointments. Is that its own theme?")

    # The team's own thread on a code, in the codebook: a coder asks, the lead answers and resolves.
    cues = Code.objects.filter(study=study, name="Loss of non-verbal cues").first()
    if cues is not None:
        question = comment_services.comment_create(
            actor=coder, study_id=sid, code_id=cues.pk,
            body="Does it count when someone *says* they could not tell how the other person felt, but the "
                 "call was on video? I have been coding it here.")
        comment_services.comment_create(
            actor=lead, study_id=sid, code_id=cues.pk, parent_id=question.pk,
            body="Yes: the code is about what was missed, whatever the medium. I have added it to the "
                 "inclusion criteria.")
        comment_services.comment_resolve(actor=lead, study_id=sid, comment_id=question.pk, resolved=True)
        comment_services.comment_create(
            actor=coder, study_id=sid, code_id=cues.pk,
            body="Should silences on the phone go here too, or under a code of their own?")
