"""What a publication is, as far as its title, GOV.UK display type and address tell: the verb
the newsletter's line suggests for it, and the section ``tracker digest --by-type`` puts it in.

The verbs are the ones the newsletter writes (read from past issues): a vacancy is "advertised
for", a film or podcast "released", a survey or consultation "launched", an update "updated";
everything else "published". The editor's own verb always wins over the suggestion.
"""

from __future__ import annotations

import re

PDF = "application/pdf"

DEFAULT_VERB = "published"

# First match wins: a "survey of foster carers' podcast habits" is still a survey.
VERB_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("advertised for", re.compile(
        r"\b(job|vacanc(y|ies)|recruit(ing|ment)?|we'?re hiring|apply to (be|join)|tender)\b", re.I)),
    ("launched", re.compile(r"\b(survey|consultation|call for (evidence|views)|questionnaire)\b", re.I)),
    ("released", re.compile(r"\b(film|video|podcast|animation|documentary|webinar recording)s?\b", re.I)),
    ("updated", re.compile(r"^(updated?|revised)\b|\b(updated|revised) (guidance|version|edition)\b", re.I)),
)
# GOV.UK display types that say the same without a cue in the title.
VERB_BY_DISPLAY_TYPE = {"open consultation": "launched", "closed consultation": "launched"}


def suggest_verb(title: str, document_type: str | None = None, url: str | None = None) -> str:
    """The newsletter's verb for a publication when the editor has set none."""
    found = _read(title, document_type, VERB_BY_DISPLAY_TYPE, VERB_CUES)
    if found:
        return found
    if re.search(r"youtube\.com/|youtu\.be/|vimeo\.com/", url or ""):
        return "released"
    return DEFAULT_VERB


# The sections of --by-type, in the order the list shows them; "Other" last.
KINDS = ("Case reviews", "Guidance", "Research and reports", "Statistics", "Consultations and surveys",
         "Policy", "Films and podcasts", "Vacancies", "Other")
KIND_BY_DISPLAY_TYPE = {
    "statutory guidance": "Guidance", "guidance": "Guidance", "detailed guide": "Guidance",
    "form": "Guidance", "research and analysis": "Research and reports",
    "independent report": "Research and reports", "corporate report": "Research and reports",
    "official statistics": "Statistics", "national statistics": "Statistics",
    "accredited official statistics": "Statistics", "statistical data set": "Statistics",
    "transparency data": "Statistics", "open consultation": "Consultations and surveys",
    "closed consultation": "Consultations and surveys",
    "consultation outcome": "Consultations and surveys", "policy paper": "Policy",
    "impact assessment": "Policy",
}
# Checked in this order: a "child safeguarding practice review" is a case review, not research.
KIND_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Case reviews", re.compile(
        r"\b(safeguarding practice review|serious case review|case review|rapid review|"
        r"domestic homicide review|learning review)s?\b", re.I)),
    ("Vacancies", VERB_CUES[0][1]),
    ("Consultations and surveys", VERB_CUES[1][1]),
    ("Films and podcasts", VERB_CUES[2][1]),
    ("Statistics", re.compile(r"\b(statistics|statistical|census|data ?set|figures)\b", re.I)),
    ("Guidance", re.compile(r"\b(guidance|guide|toolkit|practice note|how to|handbook|template)s?\b", re.I)),
    ("Policy", re.compile(r"\b(strategy|white paper|green paper|policy paper|bill|act 20\d\d)\b", re.I)),
    ("Research and reports", re.compile(
        r"\b(research|evaluation|study|report|review|analysis|evidence|briefing|findings)s?\b", re.I)),
)


def kind_of(title: str, document_type: str | None = None) -> str:
    """The --by-type section for a publication: from its GOV.UK display type where known,
    else from cues in its title; "Other" when neither says."""
    return _read(title, document_type, KIND_BY_DISPLAY_TYPE, KIND_CUES) or "Other"


def _read(title: str, document_type: str | None, by_display_type: dict[str, str],
          cues: tuple[tuple[str, re.Pattern[str]], ...]) -> str | None:
    """What the GOV.UK display type says, else the first cue the title matches, else None."""
    by_type = by_display_type.get((document_type or "").strip().lower())
    if by_type:
        return by_type
    return next((answer for answer, cue in cues if cue.search(title or "")), None)
