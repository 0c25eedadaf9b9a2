"""Adding a publication the sources missed: read what its page says about it, fill in what the
editor did not give, store it (``source_id`` 'manual') and classify it.

The page is fetched with the poller's fetch (polite user agent, size cap, time limit). The
operator's ``tracker add`` may fetch any address, as a configured source may; the workspace's
form (``public_only``) refuses loopback, private and link-local addresses, redirects included,
so an editor cannot reach the server's own network through it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from tracker import TrackerError
from tracker.dates import LONDON
from tracker.ingest.config import Settings
from tracker.ingest.fetch import make_client
from tracker.ingest.normalise import clean_url, url_key
from tracker.judgement.classify import classify_publications
from tracker.store import Added, ManualPublication, add_manual, open_database
from tracker.text import is_http_url

from .digest import line, publication_line
from .documents import CONTENT_API, content_api_url, fetch_link, is_pdf
from .newsletter import canonical_publisher
from .pagemeta import PageMeta, read_govuk_content, read_html, read_pdf


class AddError(TrackerError):
    """The publication cannot be added (no web address, no title to be had): nothing stored."""


@dataclass(frozen=True)
class AddResult:
    id: int
    created: bool  # False: the URL was already stored, and nothing changed
    title: str
    line: str  # the line as the newsletter's list would print it


@dataclass(frozen=True)
class AddRequest:
    """What the editor gives; anything empty is read from the page."""

    url: str
    title: str = ""
    publisher: str = ""
    published: date | None = None
    verb: str = ""  # empty: the digest suggests one from what the publication is
    accept: bool = False


def add_publication(db_path: str | Path, request: AddRequest, editor: str, *,
                    settings: Settings | None = None, public_only: bool = False,
                    content_api: str = CONTENT_API, now: datetime | None = None) -> AddResult:
    """Store the publication at ``request.url`` in the database at ``db_path`` (created if need
    be), audited under ``editor``, and classify it. A URL already stored changes nothing: that
    publication is returned, ``created`` False. Raises AddError, storing nothing (not even an
    empty database), for an address that is not http(s), one ``public_only`` refuses, or when
    neither the request nor the page gives a title."""
    if not is_http_url(request.url.strip()):
        raise AddError(f"{request.url!r} is not a web address (http:// or https://)")
    try:
        url = clean_url(request.url)
    except ValueError as ex:
        raise AddError(f"{request.url!r} is not a usable web address ({ex})") from None
    if Path(db_path).exists():
        db = open_database(db_path)
        try:
            existing = db.execute("select id, coalesce(edited_title, title) from publications where url_key = ?",
                                  [url_key(url)]).fetchone()
        finally:
            db.close()
        if existing:
            return _result(db_path, Added(existing[0], False, existing[1]))
    publication = read_publication(url, request, settings or Settings(), public_only, content_api)
    db = open_database(db_path)
    try:
        added = add_manual(db, publication, editor, accept=request.accept, now=now)
        if added.created:
            classify_publications(db, [added.id])
    finally:
        db.close()
    return _result(db_path, added)


def _result(db_path: str | Path, added: Added) -> AddResult:
    db = open_database(db_path)
    try:
        # Dated for this year's issues: a date in another year shows it.
        item = publication_line(db, added.id, datetime.now(LONDON).date())
    finally:
        db.close()
    return AddResult(added.id, added.created, added.title, line(item) if item else added.title)


def read_publication(url: str, request: AddRequest, settings: Settings, public_only: bool,
                     content_api: str = CONTENT_API) -> ManualPublication:
    """The publication as the request gives it, with what it leaves out read from the page."""
    given = PageMeta(title=" ".join(request.title.split()), publisher=request.publisher.strip(),
                     published=request.published)
    page, reason = PageMeta(), ""
    if public_only or not (given.title and given.publisher and given.published):
        page, reason = asyncio.run(read_page(url, settings, public_only, content_api))
    meta = given.over(page)
    if not meta.title:
        why = f"the page could not be read ({reason})" if reason else "the page gives none"
        raise AddError(f"no title for {url}: {why}; give its title, publisher and date")
    # As the newsletter writes it: "Department for Education" on the page is "DfE".
    publisher = given.publisher or (canonical_publisher(page.publisher) if page.publisher else _site(url))
    return ManualPublication(
        url=url, url_key=url_key(url), title=meta.title, publisher=publisher, published=meta.published,
        summary=meta.summary, verb=request.verb.strip(), document_type=meta.document_type,
    )


async def read_page(url: str, settings: Settings, public_only: bool,
                    content_api: str = CONTENT_API) -> tuple[PageMeta, str]:
    """What the page at ``url`` says about itself, and why nothing when it could not be read."""
    api_url = content_api_url(url, content_api)
    async with make_client(settings) as client:
        result = await fetch_link(client, api_url or url, max_bytes=settings.max_bytes,
                                  private_ok=not public_only, content_api=content_api, how=f"{url} points to")
    # Only the address itself is refused outright: a redirect onto the private network, like a
    # host not found, leaves the page unread, and the editor may still give its title and date.
    if result.refused and result.url == url:
        raise AddError(f"{result.error}: only public web addresses can be added here")
    if result.error or result.status != 200 or not result.body:
        return PageMeta(), result.error or f"HTTP {result.status}"
    if api_url:
        return read_govuk_content(result.body), ""
    if is_pdf(result):
        return await asyncio.to_thread(read_pdf, result.body), ""
    return read_html(result.body), ""


def _site(url: str) -> str:
    """The publisher when nothing names one: the site's host, without www."""
    return (urlsplit(url).hostname or "").removeprefix("www.")
