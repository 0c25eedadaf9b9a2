"""Text rules shared by every stage: feed text made plain, titles folded for matching."""

from __future__ import annotations

import html
import re
import unicodedata

from selectolax.lexbor import LexborHTMLParser

# Closing a block (or a <br>) separates words; inline tags ("Barnardo<span>’</span>s") don't.
BLOCK_END = re.compile(r"<(?:br|hr|/p|/div|/li|/h[1-6]|/td|/th|/tr|/blockquote|/dt|/dd)\b[^>]*>", re.I)
QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"'})


def clean_text(value: str | None) -> str:
    """Plain text from feed text that may hold markup or (doubly) escaped entities."""
    if not value:
        return ""
    text = str(value)
    if "<" in text or "&" in text:
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


def title_key(title: str) -> str:
    """A title folded for matching the same report announced by several publishers."""
    folded = unicodedata.normalize("NFKC", title).translate(QUOTES).casefold()
    folded = folded.replace("&", " and ")
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", folded)).strip()


def is_http_url(value: object) -> bool:
    """Whether ``value`` is an http(s) link: the only kind tracker shows as a link, follows or
    looks up (never javascript:, data:, or the urn:tracker: ids of newsletter history)."""
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


def human_size(nbytes: int) -> str:
    """A file's size as publishers and the newsletter write it: "1.9 MB", "36 KB" (powers of
    1000, never less than 1 KB)."""
    if nbytes >= 1_000_000:
        return f"{nbytes / 1_000_000:.1f} MB"
    return f"{max(1, round(nbytes / 1000))} KB"
