"""What the model and the rules read of one publication: ``features``, the one function that
turns an item into its terms and the rules it fires, for training and prediction alike (a
difference between the two would silently cost accuracy).
"""

from __future__ import annotations

import json
from collections import Counter

from .rules import Rules
from .themes import rule_text

# Only the start of a long summary is read: a 100 kB summary costs what a normal one does, and
# what a publication is about is said at its start.
MAX_SUMMARY = 1500
MAX_TITLE = 500
MAX_PUBLISHER = 100


# (terms: term -> count, see ``terms``; the themes whose phrases fired -> those phrases; the
# not-candidate phrases found). A plain tuple: a NamedTuple, built for every publication scored,
# measured 1-2 us slower of the rules' 45.
Features = tuple[Counter[str], dict[str, list[str]], list[str]]


def item_texts(item: dict) -> tuple[str, str, str]:
    """Title, summary and publisher as bounded plain strings, whatever the item holds."""

    def text(key: str, limit: int) -> str:
        value = item.get(key)
        if value is None:
            return ""
        value = value if isinstance(value, str) else json.dumps(value)
        value = value[: limit * 4]
        if "<" in value or "&" in value:
            # Imported only for markup: its HTML parser would add a sixth to the time
            # `tracker classify --rules-only` takes to its first answer.
            from tracker.text import clean_text

            value = clean_text(value)
        return value[:limit]

    return text("title", MAX_TITLE), text("summary", MAX_SUMMARY), text("publisher", MAX_PUBLISHER)


def features(item: dict, rules: Rules) -> Features:
    """The features of one item (a dict with title, summary, publisher). rule_text of the
    publisher, title and summary joined by spaces is theirs joined: each is worked out once for
    the terms and the rules."""
    texts = item_texts(item)
    title, summary, publisher = (rule_text(text) for text in texts)
    fired, blocked = rules.match(" ".join(text for text in (publisher, title, summary) if text))
    found = terms(title, summary, publisher if texts[2] else None)
    if fired and title:
        # A theme whose phrases are in the title is what the publication is about; one named in
        # the summary alone may only be mentioned. The model weighs the two apart.
        for slug in rules.match(title)[0]:
            found["r:" + slug] = 1
    return found, fired, blocked


def terms(title: str, summary: str, publisher: str | None) -> Counter:
    """The terms one publication is made of (from its texts as ``rule_text`` gives them): words
    and word pairs of title and summary ("w:"), title words again ("t:") because a title says
    more than a summary, and the publisher ("p:"; None when it has none). ``features`` adds
    "r:" for each theme whose phrases the title itself holds. Character n-grams of
    the title were tried: no better on held-out folds, and they doubled the terms to look up,
    so half the speed."""
    title_words = title.split()
    words = title_words + summary.split()
    found = ["w:" + w for w in words]
    found += ["w:" + a + "_" + b for a, b in zip(words, words[1:], strict=False)]
    found += ["t:" + w for w in title_words]
    if publisher is not None:
        found.append("p:" + publisher.replace(" ", "_"))
    return Counter(found)


def readable_term(term: str) -> str:
    """A term as an editor reads it: "w:kinship_care" -> "kinship care", "r:send" -> "send in
    the title"."""
    if term.startswith("r:"):
        return f"{term[2:]} in the title"
    return term[2:].replace("_", " ")
