"""Text rules shared by every stage: feed text made plain, titles folded for matching."""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

# Closing a block (or a <br>) separates words; inline tags ("Barnardo<span>’</span>s") don't.
BLOCK_END = re.compile(r"<(?:br|hr|/p|/div|/li|/h[1-6]|/td|/th|/tr|/blockquote|/dt|/dd)\b[^>]*>", re.I)
# Elements nested deeper than this cost the HTML parser quadratic time (100,000 deep: over a
# minute); real pages and feed text nest a few dozen deep.
MAX_NESTING = 2000
TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^>]*?(/?)>")
# Elements that never hold others, or whose end tag HTML lets authors leave out: not counted.
UNCOUNTED = frozenset(
    "area base br col embed hr img input link meta param source track wbr p li dt dd tr td th "
    "option optgroup tbody thead tfoot colgroup caption rb rt rp html head body".split()
)
ANY_TAG = re.compile(r"<[^>]*>")
QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"'})


def clean_text(value: str | None) -> str:
    """Plain text from feed text that may hold markup or (doubly) escaped entities."""
    if not value:
        return ""
    text = str(value)
    if "<" in text and nesting_depth(text) > MAX_NESTING:
        # Too deep to parse in time: the tags go by pattern instead (no tree, linear).
        text = html.unescape(ANY_TAG.sub(" ", BLOCK_END.sub(" ", text)))
    elif "<" in text or "&" in text:
        # No closing </body>: after an unclosed <iframe>, <textarea> or <xmp> (raw text to the
        # end) it would be read as text and end up in the title.
        tree = LexborHTMLParser(f"<body>{BLOCK_END.sub(lambda m: m.group(0) + ' ', text)}")
        tree.strip_tags(["script", "style", "noscript", "template"])
        body = tree.body
        text = body.text(separator="") if body is not None else ""
        # Feeds that escape twice leave "&amp;#8217;" behind as "&#8217;" after one pass.
        if "&" in text:
            text = html.unescape(text)
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    # Control and format characters never belong in a title; checking first (in C) spares the
    # character-by-character filter for the usual text that has none.
    if not text.replace("\t", "").replace("\n", "").isprintable():
        text = "".join(ch for ch in text if ch in "\t\n " or unicodedata.category(ch)[0] != "C")
    return re.sub(r"\s+", " ", text).strip()


def nesting_depth(markup: str) -> int:
    """How deep ``markup``'s elements nest at most, counted from its tags in one linear pass
    (elements with optional end tags not counted, so a page of unclosed <p>s is not deep)."""
    depth = deepest = 0
    for match in TAG.finditer(markup):
        closing, name, self_closing = match.groups()
        if self_closing or name.lower() in UNCOUNTED:
            continue
        if closing:
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def title_key(title: str) -> str:
    """A title folded for matching the same report announced by several publishers."""
    folded = unicodedata.normalize("NFKC", title).translate(QUOTES).casefold()
    folded = folded.replace("&", " and ")
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", folded)).strip()


def is_http_url(value: object) -> bool:
    """Whether ``value`` is an http(s) address: the only kind tracker shows as a link, follows,
    looks up or accepts in its configuration (never javascript:, data:, or the urn:tracker: ids
    of newsletter history), with a host that has no white space in it and a port, if any, that
    is a number."""
    if not isinstance(value, str) or not value[:8].lower().startswith(("http://", "https://")):
        return False
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # .port raises on one that is not a number
    except ValueError:  # "http://[bad", "http://host:port/"
        return False
    return bool(host and not any(character.isspace() for character in host))


def human_size(nbytes: int) -> str:
    """A file's size as publishers and the newsletter write it: "1.9 MB", "36 KB" (powers of
    1000, never less than 1 KB)."""
    if nbytes >= 1_000_000:
        return f"{nbytes / 1_000_000:.1f} MB"
    return f"{max(1, round(nbytes / 1000))} KB"
