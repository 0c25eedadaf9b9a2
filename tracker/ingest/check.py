"""``tracker sources check``: fetch each source once as a poll would, store nothing, and say in
words which sources work and what could replace those that do not.

A source that fails, or that depends on CSS selectors, gets the alternatives discover.py finds
(an advertised feed, the WordPress API, a sitemap), each fetched and parsed like a real source;
the first that gives items is proposed as a sources.yaml entry.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, replace
from datetime import date

import httpx

from tracker.entries import Entry

from .config import Config, Settings, Source
from .discover import Candidate, candidates, site_root, sitemap_children
from .fetch import FetchResult, HostLimiter, fetch, is_private_host, make_client
from .normalise import normalise_entry
from .parse import ParseError, decode, parse_body

# Types whose host is an API with no other form to offer: a failure is reported, not replaced.
DISCOVERABLE = ("feed", "html", "wordpress", "sitemap")
PLAIN_YAML = re.compile(r"^[A-Za-z0-9][\w .'()&,/-]*$")


@dataclass(frozen=True)
class Proposal:
    type: str
    url: str
    how: str  # how it was found
    items: int
    newest: str | None  # YYYY-MM-DD

    def snippet(self, source: Source, today: date) -> str:
        """The sources.yaml entry that would replace ``source``, with the evidence as a comment."""
        newest = f", newest {self.newest}" if self.newest else ""
        lines = [
            f"  # {self.how}: {self.items} items{newest} (tracker sources check, {today.isoformat()})",
            f"  - id: {source.id}",
            f"    publisher: {_yaml(source.publisher)}",
            f"    type: {self.type}",
            "    confidence: probable",
            f"    url: {_yaml(self.url)}",
        ]
        if self.type == "sitemap":
            lines.append("    # paths: [/publications/]   # keep only the publication pages")
        return "\n".join(lines)


@dataclass(frozen=True)
class SourceCheck:
    source: Source
    works: bool
    items: int = 0
    newest: str | None = None
    problem: str | None = None  # what is wrong, in words, when it does not work
    proposal: Proposal | None = None

    def as_dict(self, today: date) -> dict:
        proposal = self.proposal
        return {
            "source": self.source.id, "publisher": self.source.publisher, "type": self.source.type,
            "url": self.source.request_url, "works": self.works, "items": self.items,
            "newest": self.newest, "problem": self.problem,
            "proposal": None if proposal is None else {
                "type": proposal.type, "url": proposal.url, "how": proposal.how,
                "items": proposal.items, "newest": proposal.newest,
                "snippet": proposal.snippet(self.source, today),
            },
        }


def check_sources(config: Config, sources: list[Source],
                  client: httpx.AsyncClient | None = None) -> list[SourceCheck]:
    """Each of ``sources`` fetched once, in the order given; nothing is stored."""
    return asyncio.run(_check_all(config.settings, sources, client))


async def _check_all(settings: Settings, sources: list[Source],
                     client: httpx.AsyncClient | None) -> list[SourceCheck]:
    limiter = HostLimiter(settings.per_host, settings.concurrency)
    own = client is None
    client = client or make_client(settings)
    try:
        return list(await asyncio.gather(*(_check(client, settings, limiter, s) for s in sources)))
    finally:
        if own:
            await client.aclose()


async def _check(client: httpx.AsyncClient, settings: Settings, limiter: HostLimiter,
                 source: Source) -> SourceCheck:
    result, items, newest, problem = await _try(client, settings, limiter, source, source.request_url)
    works = problem is None
    if (works and source.type != "html") or source.type not in DISCOVERABLE:
        return SourceCheck(source, works, items, newest, problem)
    # An html source's own page is where its site advertises a feed; otherwise the home page.
    page_url = result.url if source.type == "html" and result.body else site_root(source.url)
    page = result.body if source.type == "html" and result.body else None
    if page is None:
        home = await _fetch(client, settings, limiter, source, page_url)
        page = home.body
    text = decode(page, None) if page else None
    proposal = await _first_working(client, settings, limiter, source, candidates(source.request_url, text, page_url))
    return SourceCheck(source, works, items, newest, problem, proposal)


async def _first_working(client: httpx.AsyncClient, settings: Settings, limiter: HostLimiter,
                         source: Source, found: list[Candidate]) -> Proposal | None:
    for candidate in found:
        result, items, newest, problem = await _try(client, settings, limiter,
                                                    _as(source, candidate.type), candidate.url)
        if problem is None:
            return Proposal(candidate.type, candidate.url, candidate.how, items, newest)
        if candidate.type == "sitemap" and result.body:
            # A sitemap index: propose the child sitemap that lists pages.
            for child in sitemap_children(result.body)[:3]:
                _, items, newest, problem = await _try(client, settings, limiter, _as(source, "sitemap"), child)
                if problem is None:
                    return Proposal("sitemap", child, f"a sitemap in {candidate.how}", items, newest)
    return None


def _as(source: Source, kind: str) -> Source:
    return replace(source, type=kind, params={}, selectors=None, paths=())


async def _fetch(client: httpx.AsyncClient, settings: Settings, limiter: HostLimiter,
                 source: Source, url: str) -> FetchResult:
    # A URL a publisher's page names (a feed it advertises, a sitemap's child) goes to a private
    # address only for a source configured on one, as its redirects do.
    private = is_private_host(source.url)
    async with limiter.slot(url):
        return await fetch(client, url, max_bytes=settings.max_bytes, allow_private_url=private,
                           allow_private_redirects=private)


async def _try(client: httpx.AsyncClient, settings: Settings, limiter: HostLimiter, source: Source,
               url: str) -> tuple[FetchResult, int, str | None, str | None]:
    """Fetch ``url`` and read it as ``source`` would be read: (the fetch, items, newest date,
    what is wrong or None)."""
    result = await _fetch(client, settings, limiter, source, url)
    if result.error:
        return result, 0, None, result.error
    try:
        entries = await asyncio.to_thread(_entries, source, result)
    except ParseError as ex:
        return result, 0, None, str(ex)
    except Exception as ex:  # a parser bug must cost one source's check, not the whole table
        return result, 0, None, f"could not read the response ({type(ex).__name__}: {ex})"[:300]
    if not entries:
        return result, 0, None, "the response holds no publications"
    dates = [e.published for e in entries if e.published]
    return result, len(entries), max(dates) if dates else None, None


def _entries(source: Source, result: FetchResult) -> list[Entry]:
    """The publications in a response, read as a poll reads them; one unreadable entry is
    skipped, as a poll skips it."""
    entries: dict[str, Entry] = {}
    for raw in parse_body(source, result.body or b"", result.content_type, result.url):
        try:
            entry = normalise_entry(raw, base_url=result.url, date_order=source.date_order)
        except Exception:  # the poll logs and skips such an entry; so does the check
            continue
        if entry is not None:
            entries.setdefault(entry.url_key, entry)
    return list(entries.values())


def _yaml(text: str) -> str:
    """A YAML scalar: plain where that reads back the same, else a JSON string (valid YAML)."""
    return text if PLAIN_YAML.match(text) and ": " not in text and " #" not in text else json.dumps(text)
