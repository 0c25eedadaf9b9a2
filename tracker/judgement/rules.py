"""themes.yaml's phrases as a matcher: which themes fire on a text, on which words, and the
keyword-only candidate score (the cold start, before any model).
"""

from __future__ import annotations

import re
from typing import Iterable

from .themes import ThemeSet, rule_text


def _alternatives(phrases: Iterable[str]) -> list[tuple[str, list[str], str, bool]]:
    """Each phrase as (regular expression, its words but the last, the last, whether the last
    is a prefix), longest expression first: the order a pattern of them tries them in."""
    parts = []
    for phrase in phrases:
        words, wildcard = rule_text(phrase.rstrip("*")).split(), phrase.endswith("*")
        parts.append((re.escape(" ".join(words)) + (r"\w*" if wildcard else ""), words[:-1], words[-1], wildcard))
    return sorted(parts, key=lambda part: len(part[0]), reverse=True)


def _pattern(phrases: Iterable[str]) -> re.Pattern | None:
    parts = [expression for expression, *_ in _alternatives(phrases)]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)") if parts else None


class Rules:
    """themes.yaml's phrases compiled: which themes fire on a text, and on which words.

    A text is matched word by word, as a pattern of a theme's phrases would match it (leftmost
    first, a phrase tried in the pattern's order, matches not overlapping), but in one pass for
    every theme, stopping only at words that start a phrase: a phrase's first word, or a word
    starting with a one-word phrase ending in *. Those words are found by one set intersection
    and one scan for the prefixes."""

    def __init__(self, theme_set: ThemeSet):
        self.slugs = theme_set.slugs
        self._excludes = [_pattern(t.exclude) for t in theme_set.themes]
        # One group of phrases per theme, then the not-candidate phrases, keyed by position.
        self._groups = [_alternatives(t.include) for t in theme_set.themes]
        self._groups.append(_alternatives(theme_set.not_candidate))
        self._start_words = set(head[0] if head else last for group in self._groups
                                      for _, head, last, wildcard in group if head or not wildcard)
        # Every word that starts with a prefix, whole. Alternatives grouped by their first letter
        # (one test rules out a group) scan in half the time of a plain list of them.
        by_letter: dict[str, list[str]] = {}
        for prefix in sorted({last for group in self._groups for _, head, last, wildcard in group
                              if wildcard and not head}):
            by_letter.setdefault(prefix[0], []).append(re.escape(prefix[1:]))
        self._prefix_pattern = re.compile(r"\b(?:" + "|".join(
            re.escape(letter) + "(?:" + "|".join(rests) + ")" for letter, rests in by_letter.items()
        ) + r")\w*") if by_letter else None
        self._starting: dict[str, list] = {}  # word -> [(group, its phrases that can start there)]
        self._pairs: dict[tuple[str, str], list] = {}  # (word, next word) -> the same, fewer

    def _phrases_at(self, word: str, after: str) -> list:
        """[(group, its phrases that can start at ``word`` followed by ``after``)], cached per
        word, then per pair of words: most phrases starting with "childrens" need a second word."""
        found = self._pairs.get((word, after))
        if found is not None:
            return found
        starting = self._starting.get(word)
        if starting is None:
            starting = self._starting[word] = [
                (key, alternatives) for key, group in enumerate(self._groups)
                if (alternatives := [(head, last, wildcard) for _, head, last, wildcard in group
                                     if (head[0] == word if head else word.startswith(last) if wildcard
                                         else word == last)])
            ]
        found = [(key, alternatives) for key, group in starting
                 if (alternatives := [(head, last, wildcard) for head, last, wildcard in group
                                      if not head or (after == head[1] if len(head) > 1 else
                                                      after.startswith(last) if wildcard else after == last)])]
        for cache in (self._starting, self._pairs):
            if len(cache) > 100_000:  # a bound on memory, never reached by real text
                cache.clear()
        self._pairs[(word, after)] = found
        return found

    def match(self, text: str) -> tuple[dict[str, list[str]], list[str]]:
        """({slug: matched phrases} for the themes that fire, not-candidate phrases matched), for
        a text as ``rule_text`` gives it (words separated by single spaces)."""
        words = text.split(" ")
        starts = self._start_words.intersection(words)
        if self._prefix_pattern is not None:
            starts.update(self._prefix_pattern.findall(text))
        found: dict[int, list[str]] = {}
        if starts:
            free: dict[int, int] = {}  # group -> the first word a match of it may start at
            for i in [i for i, word in enumerate(words) if word in starts]:
                for key, alternatives in self._phrases_at(words[i], words[i + 1] if i + 1 < len(words) else ""):
                    if free.get(key, 0) > i:
                        continue
                    for head, last, wildcard in alternatives:
                        j = i + len(head)
                        if j < len(words) and words[i:j] == head and (
                                words[j].startswith(last) if wildcard else words[j] == last):
                            found.setdefault(key, []).append(" ".join(words[i : j + 1]))
                            free[key] = j + 1
                            break
        fired = {}
        for key, (slug, exclude) in enumerate(zip(self.slugs, self._excludes, strict=True)):
            if key in found and not (exclude and exclude.search(text)):
                fired[slug] = sorted(set(found[key]))
        return fired, sorted(set(found.get(len(self.slugs), ())))


def rules_candidate_score(fired: dict, blocked: list) -> float:
    """The keyword-only candidate score: more themes, likelier; a not-candidate phrase, unlikely."""
    score = 0.2 + 0.6 * (1 - 0.5 ** len(fired))
    return round(score * (0.25 if blocked else 1.0), 4)
