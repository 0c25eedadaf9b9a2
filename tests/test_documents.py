"""Document suffixes: GOV.UK Content API attachments and publishers' own PDFs, over real HTTP."""

import asyncio
import io
import json
import socket
import time
from datetime import date

import pytest
from pypdf import PdfWriter

from tracker.ingest.config import Settings
from tracker.ingest.fetch import make_client
from tracker.publish.digest import collect, line
from tracker.publish.documents import (
    check_documents,
    check_documents_now,
    count_pages,
    featured_pdf,
    prominent_pdf_link,
)

SETTINGS = Settings(timeout=5, connect_timeout=2)
ISSUE = date(2025, 4, 11)  # the issue after the fixtures' publication date, 7 April


@pytest.fixture
def govuk_path(feeds_dir):
    """The path of the publication in the recorded Content API answer."""
    return json.loads((feeds_dir / "govuk-content-publication.json").read_text())["base_path"]


def pdf_bytes(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)  # A4 in points
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def documents(db) -> dict[int, dict]:
    return {row["publication_id"]: row for row in db["documents"].rows}


def look_up(db, ids, feed_server, settings=SETTINGS, allow_private=True):
    # The test server is on loopback: allowed here as a deployment would allow its own network.
    return check_documents_now(db, ids, settings, content_api=feed_server.url("/api/content"),
                               allow_private=allow_private)


def test_govuk_featured_pdf_from_the_content_api(db, add_publication, feed_server, govuk_path):
    feed_server.serve_file("/api/content" + govuk_path, "govuk-content-publication.json")
    pid = add_publication(url="https://www.gov.uk" + govuk_path,
                          title="Number of ex-regular service personnel now part of FR20")

    assert look_up(db, [pid], feed_server) == 1

    row = documents(db)[pid]
    assert (row["content_type"], row["pages"], row["bytes"], row["error"]) == ("application/pdf", 2, 1932905, None)
    assert row["url"].endswith("/PUBLIC_1392629965.pdf")  # the featured one, not the first PDF listed
    assert line(collect(db, ISSUE).accepted[0]).endswith("now part of FR20 (pdf, 2 pages)")


def test_looked_up_once_even_after_a_failure(db, add_publication, feed_server, govuk_path):
    feed_server.serve("/api/content" + govuk_path, "Service unavailable", status=503)
    pid = add_publication(url="https://www.gov.uk" + govuk_path)

    assert look_up(db, [pid], feed_server) == 1
    assert "503" in documents(db)[pid]["error"]
    feed_server.serve_file("/api/content" + govuk_path, "govuk-content-publication.json")
    assert look_up(db, [pid], feed_server) == 0
    assert len(feed_server.requests_to("/api/content" + govuk_path)) == 1


@pytest.mark.parametrize("attachments, featured, expected", [
    ([{"id": "a", "content_type": "text/csv"}, {"id": "b", "content_type": "application/pdf"}], [], "b"),
    ([{"id": "a", "content_type": "application/pdf"}, {"id": "b", "content_type": "application/pdf"}], ["b"], "b"),
    ([{"id": "a", "content_type": "application/pdf"}, {"id": "b", "content_type": "text/csv"}], ["b"], "a"),
    ([{"id": "h", "attachment_type": "html"}], ["h"], None),
    ([], [], None),
])
def test_featured_pdf_order(attachments, featured, expected):
    found = featured_pdf({"details": {"attachments": attachments, "featured_attachments": featured}})
    assert (found or {}).get("id") == expected


def test_govuk_attachment_without_page_count_is_counted_from_the_file(db, add_publication, feed_server):
    pdf_url = feed_server.serve("/assets/report.pdf", pdf_bytes(7), content_type="application/pdf")
    content = {"details": {"attachments": [
        {"attachment_type": "file", "id": "r", "url": pdf_url, "content_type": "application/pdf"}]}}
    feed_server.serve("/api/content/government/publications/report", json.dumps(content))
    pid = add_publication(url="https://www.gov.uk/government/publications/report")

    look_up(db, [pid], feed_server)

    assert (documents(db)[pid]["pages"], documents(db)[pid]["url"]) == (7, pdf_url)


def test_publisher_pdf_counted_with_pypdf(db, add_publication, feed_server):
    body = pdf_bytes(3)
    url = feed_server.serve("/uploads/spending-report.pdf", body, content_type="application/pdf")
    pid = add_publication(url=url, publisher="the Children's Charities Coalition")

    look_up(db, [pid], feed_server)

    row = documents(db)[pid]
    assert (row["pages"], row["bytes"], row["content_type"]) == (3, len(body), "application/pdf")


def test_publisher_page_linking_its_report(db, add_publication, feed_server):
    feed_server.serve("/files/raised-by-relatives.pdf", pdf_bytes(4), content_type="application/pdf")
    feed_server.serve("/files/annual-review.pdf", pdf_bytes(40), content_type="application/pdf")
    page = feed_server.serve("/research/raised-by-relatives", """<!doctype html><html><body>
        <nav><a href="/files/annual-review.pdf">Our annual review</a></nav>
        <main><h1>Raised by Relatives</h1><p>Read <a href="/research">more research</a> or
        <a href="/files/raised-by-relatives.pdf">download the full report</a>.</p></main>
        </body></html>""", content_type="text/html; charset=utf-8")
    pid = add_publication(url=page, publisher="Kinship")

    look_up(db, [pid], feed_server)

    assert documents(db)[pid]["pages"] == 4
    assert feed_server.requests_to("/files/annual-review.pdf") == []


@pytest.mark.parametrize("html, expected", [
    ('<main><a href="report.PDF">Report</a></main>', "https://example.org/news/report.PDF"),
    ('<article><a href="mailto:x@example.org">Mail</a><a href="/r.pdf">R</a></article>', "https://example.org/r.pdf"),
    ('<main><a href="/about">About</a></main><footer><a href="/policy.pdf">Policy</a></footer>', None),
    ('<p>No links at all</p>', None),
])
def test_prominent_pdf_link(html, expected):
    assert prominent_pdf_link(html.encode(), "https://example.org/news/item") == expected


@pytest.mark.parametrize("body, status, content_type, error", [
    ("Not found", 404, "text/plain", "404"),
    (b"%PDF-1.7 this is not really a pdf", 200, "application/pdf", "unreadable PDF"),
    ("<html>a login page</html>", 200, "text/html", "not a PDF"),
])
def test_failures_are_recorded_not_raised(db, add_publication, feed_server, body, status,
                                          content_type, error):
    url = feed_server.serve("/report.pdf", body, status=status, content_type=content_type)
    pid = add_publication(url=url)

    look_up(db, [pid], feed_server)

    row = documents(db)[pid]
    assert error in row["error"] and row["pages"] is None
    assert line(collect(db, ISSUE).accepted[0]).endswith("December 2024")  # no suffix, no crash


def test_pdf_larger_than_the_polling_limit_is_refused(db, add_publication, feed_server):
    url = feed_server.serve("/big.pdf", pdf_bytes(200), content_type="application/pdf")
    pid = add_publication(url=url)

    look_up(db, [pid], feed_server, settings=Settings(max_bytes=2000, timeout=5))

    assert "larger than" in documents(db)[pid]["error"]


def test_only_accepted_and_candidates_with_web_addresses(db, add_publication, feed_server):
    urls = {status: feed_server.serve(f"/{status}.pdf", pdf_bytes(1), content_type="application/pdf")
            for status in ("accepted", "new", "rejected")}
    ids = [add_publication(url=url, status=status) for status, url in urls.items()]
    ids.append(add_publication(url="urn:tracker:newsletter:2025-04-18:1"))

    assert look_up(db, ids, feed_server) == 2

    assert set(documents(db)) == set(ids[:2])
    assert feed_server.requests_to("/rejected.pdf") == []


def test_count_pages():
    assert count_pages(pdf_bytes(12)) == 12


def test_a_link_onto_the_private_network_is_refused(db, add_publication, feed_server):
    # A feed's link is someone else's input: it must not steer the tracker onto internal hosts,
    # neither directly nor by a redirect (fetch's own tests cover redirects from public hosts).
    feed_server.serve("/internal/report.pdf", pdf_bytes(2), content_type="application/pdf")
    direct = add_publication(url=feed_server.url("/internal/report.pdf"))
    redirected = add_publication(url=feed_server.redirect("/report.pdf", feed_server.url("/internal/report.pdf")))

    look_up(db, [direct, redirected], feed_server, allow_private=False)

    for pid in (direct, redirected):
        assert "links to a private address (127.0.0.1): refused" in documents(db)[pid]["error"]
    assert feed_server.requests == []



def test_look_ups_have_a_budget_of_their_own(db, add_publication, feed_server):
    """40 links to a stalling host, one at a time at a 1 s timeout, held polling for 40 s; the
    look-ups now end after 3 timeouts, and those not done are looked up next time."""
    quick = add_publication(url=feed_server.serve("/quick.pdf", pdf_bytes(3), content_type="application/pdf"))
    feed_server.fault("/stall", "hang")
    stalled = [add_publication(url=feed_server.url(f"/stall?n={n}")) for n in range(40)]
    started = time.monotonic()

    done = look_up(db, [quick, *stalled], feed_server, settings=Settings(timeout=1, per_host=1))

    assert time.monotonic() - started < 6
    assert documents(db)[quick]["pages"] == 3
    assert done == len(documents(db)) < 41  # the rest have no row: tried again next time


def test_a_link_to_a_name_on_the_private_network_is_looked_up_once_and_refused(db, add_publication, feed_server):
    # The name is resolved where the connection is made, once: that answer is the one checked
    # and the one that would be connected to, so no second answer can differ from it.
    lookups = []

    async def internal(host, port):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    feed_server.serve("/internal/report.pdf", pdf_bytes(2), content_type="application/pdf")
    pid = add_publication(url=f"http://intranet.example:{feed_server.port}/internal/report.pdf")

    async def run():
        async with make_client(SETTINGS, resolver=internal) as client:
            return await check_documents(db, client, [pid], settings=SETTINGS,
                                         content_api=feed_server.url("/api/content"))

    assert asyncio.run(run()) == 1
    assert documents(db)[pid]["error"] == "intranet.example resolves to a private address (127.0.0.1): refused"
    assert lookups == ["intranet.example"] and feed_server.requests == []
