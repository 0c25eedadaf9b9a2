"""The document behind a publication, for the newsletter's suffix "(pdf, 36 pages)".

GOV.UK publications describe their attachments in the Content API (``details.attachments``:
``content_type``, ``number_of_pages``, ``file_size``), so one JSON request answers. Other
publishers either link a PDF directly or put one on the publication's page; that PDF is fetched
with ``tracker.ingest.fetch.fetch`` under the polling limits and its pages counted with pypdf.

Each publication is looked up once: the result, an error included, is cached in ``documents``
(through the store).
Only accepted publications and candidates (status ``new``) are looked up: rejected ones are
never shown, so fetching their PDFs would only cost the publishers bandwidth.
"""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import urljoin, urlsplit

import httpx
from sqlite_utils import Database

from tracker.ingest.config import Settings
from tracker.ingest.fetch import FetchResult, HostLimiter, fetch, is_private_host, make_client, refuse_private
from tracker.ingest.guard import RefusedAddress
from tracker.store import Document, save_documents
from tracker.text import is_http_url

from .kinds import PDF

CONTENT_API = "https://www.gov.uk/api/content"
GOVUK_HOSTS = ("www.gov.uk", "gov.uk")
# Where a publisher's page keeps its main content: the first PDF linked there is the report.
MAIN_CONTENT = ("main", "article", "[role=main]", "#content", "body")
# One digest's look-ups take at most this many fetch timeouts in all.
BUDGET_TIMEOUTS = 3


def check_documents_now(db: Database, ids: Iterable[int], settings: Settings, *,
                        content_api: str = CONTENT_API, allow_private: bool = False) -> int:
    """``check_documents`` from synchronous code (the digest): its own client and event loop."""

    async def run() -> int:
        async with make_client(settings) as client:
            return await check_documents(db, client, ids, settings=settings,
                                         content_api=content_api, allow_private=allow_private)

    return asyncio.run(run())


async def check_documents(db: Database, client: httpx.AsyncClient, ids: Iterable[int], *,
                          settings: Settings, content_api: str = CONTENT_API,
                          allow_private: bool = False) -> int:
    """Look up each given accepted or candidate publication not looked up before.

    Returns how many were looked up. Failures are stored as the row's ``error`` and never
    raised: a missing page count must not stop the digest. The links come from publishers'
    feeds, so a link or redirect to a private address is refused unless ``allow_private`` (a
    deployment whose publishers sit on its own network) or the publication's source is itself
    configured on a private address (the operator's choice, as for polling).
    """
    rows = _pending(db, ids)
    if not rows:
        return 0
    limiter = HostLimiter(settings.per_host, settings.concurrency)
    lookups = {private_ok: _Lookup(client, settings, content_api, limiter, private_ok)
               for private_ok in (False, True)}
    tasks = [asyncio.ensure_future(lookups[allow_private or row["private_source"]].document(row["url"]))
             for row in rows]
    # The look-ups have a budget of their own: 200 links to a stalling host would otherwise
    # hold whatever waits for them (serve's next poll) for 200 timeouts over per_host.
    # Those not done in time are not stored, so the next digest looks them up again.
    done, late = await asyncio.wait(tasks, timeout=settings.timeout * BUDGET_TIMEOUTS)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    found = {row["id"]: task.result() for row, task in zip(rows, tasks, strict=True) if task in done}
    if found:
        save_documents(db, found, datetime.now(timezone.utc))
    return len(found)


def _pending(db: Database, ids: Iterable[int]) -> list[dict[str, Any]]:
    """The given publications still to look up: shown ones (accepted or candidates) with a web
    address, each with whether its source is configured on a private address."""
    ids = [int(i) for i in ids]
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    rows = db.execute_returning_dicts(
        f"""select p.id, p.url, s.url as source_url from publications p
            left join sources s on s.id = p.source_id
            where p.id in ({marks}) and p.status in ('accepted', 'new')
              and p.id not in (select publication_id from documents)
            order by p.id""",
        ids,
    )
    rows = [row for row in rows if is_http_url(row["url"])]
    for row in rows:
        row["private_source"] = is_private_host(row.pop("source_url") or "")
    return rows


def content_api_url(url: str, content_api: str) -> str | None:
    """Where a GOV.UK page is read from: its JSON in the Content API, which describes it and its
    attachments. None for another publisher's page, read from the page itself."""
    parts = urlsplit(url)
    return content_api.rstrip("/") + parts.path if parts.hostname in GOVUK_HOSTS else None


async def fetch_link(client: httpx.AsyncClient, url: str, *, max_bytes: int, private_ok: bool,
                     content_api: str, how: str = "links to") -> FetchResult:
    """``fetch`` a URL that came from a publisher's feed or page or an editor's form, not from our
    configuration: unless ``private_ok``, it must not lead onto the private network, directly
    (the error says the URL ``how`` there) or by a redirect; the result is then ``refused``.
    The Content API is our configuration: only its redirects are checked."""
    if not private_ok and not url.startswith(content_api):
        try:
            refuse_private(url, how)
        except RefusedAddress as ex:
            return FetchResult(url=url, error=str(ex), refused=True)
    return await fetch(client, url, max_bytes=max_bytes, allow_private_redirects=private_ok)


class _Lookup:
    """Look-ups under one policy for private addresses, sharing a pass's client and limits."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings, content_api: str, limiter: HostLimiter,
                 private_ok: bool):
        self.client, self.max_bytes, self.content_api = client, settings.max_bytes, content_api
        self.limiter, self.private_ok = limiter, private_ok

    async def document(self, url: str) -> Document:
        try:
            api_url = content_api_url(url, self.content_api)
            return await (self._govuk(api_url) if api_url else self._publisher(url))
        except Exception as ex:  # noqa: BLE001 - one odd document never stops the others
            return Document(error=f"{type(ex).__name__}: {ex}")

    async def _get(self, url: str) -> FetchResult:
        async with self.limiter.slot(url):
            return await fetch_link(self.client, url, max_bytes=self.max_bytes, private_ok=self.private_ok,
                                    content_api=self.content_api)

    async def _govuk(self, api_url: str) -> Document:
        result = await self._get(api_url)
        body = _body(result)
        if isinstance(body, str):
            return Document(error=f"Content API: {body}")
        attachment = featured_pdf(json.loads(body))
        if attachment is None:
            return Document()
        document = Document(
            url=attachment.get("url"), content_type=PDF,
            pages=_whole(attachment.get("number_of_pages")),
            nbytes=_whole(attachment.get("file_size")),
        )
        if document.pages is None and document.url:
            # Older attachments lack number_of_pages: count them from the file itself.
            counted = await self._pdf(document.url)
            return Document(url=document.url, content_type=PDF, pages=counted.pages,
                            nbytes=document.nbytes or counted.nbytes, error=counted.error)
        return document

    async def _publisher(self, url: str) -> Document:
        if urlsplit(url).path.lower().endswith(".pdf"):
            return await self._pdf(url)
        result = await self._get(url)
        body = _body(result)
        if isinstance(body, str):
            return Document(error=body)
        if is_pdf(result):
            return await asyncio.to_thread(_counted, result.url or url, body)
        if "html" not in (result.content_type or "").lower():
            return Document()
        link = prominent_pdf_link(body, result.url or url)
        return await self._pdf(link) if link else Document()

    async def _pdf(self, url: str) -> Document:
        result = await self._get(url)
        body = _body(result)
        if isinstance(body, str):
            return Document(url=url, content_type=PDF, error=body)
        if not is_pdf(result):
            return Document(url=url, error=f"not a PDF ({result.content_type or 'no content type'})")
        return await asyncio.to_thread(_counted, result.url or url, body)


def _body(result: FetchResult) -> bytes | str:
    """The body of a complete 200 answer, or (as text) why there is none."""
    if result.error:
        return result.error
    if result.status != 200 or result.body is None:
        return f"HTTP {result.status}"
    return result.body


def featured_pdf(content: dict[str, Any]) -> dict[str, Any] | None:
    """The first PDF attachment, featured attachments first, as the publication page shows."""
    details = content.get("details") or {}
    attachments = [a for a in details.get("attachments") or [] if isinstance(a, dict)]
    featured = details.get("featured_attachments") or []
    rank = {ident: index for index, ident in enumerate(featured)}
    attachments.sort(key=lambda a: rank.get(a.get("id"), len(rank)))
    for attachment in attachments:
        if (attachment.get("content_type") or "").split(";")[0].strip().lower() == PDF:
            return attachment
    return None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def prominent_pdf_link(body: bytes, base_url: str) -> str | None:
    """The first PDF linked from the page's main content: on report pages, the report."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(body)
    for scope in MAIN_CONTENT:
        node = tree.css_first(scope)
        if node is None:
            continue
        for anchor in node.css("a[href]"):
            href = (anchor.attributes.get("href") or "").strip()
            target = urljoin(base_url, href)
            if is_http_url(target) and urlsplit(target).path.lower().endswith(".pdf"):
                return target
        return None
    return None


def is_pdf(result: FetchResult) -> bool:
    return PDF in (result.content_type or "").lower() or (result.body or b"")[:5] == b"%PDF-"


def _counted(url: str, body: bytes) -> Document:
    try:
        pages = count_pages(body)
    except Exception as ex:  # noqa: BLE001 - pypdf raises many kinds on a damaged file
        return Document(url=url, content_type=PDF, nbytes=len(body), error=f"unreadable PDF: {ex}")
    return Document(url=url, content_type=PDF, pages=pages, nbytes=len(body))


def count_pages(body: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(body)).pages)
