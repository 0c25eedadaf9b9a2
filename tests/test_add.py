"""tracker add: a publication the sources missed, read from its own page (served for real on
127.0.0.1), stored as source 'manual' and classified; the workspace form's refusal of private
addresses; bad input stores nothing."""

import io
import json
from datetime import date

import pytest
from click.testing import CliRunner
from pypdf import PdfWriter
from sqlite_utils import Database

from tracker.cli import cli
from tracker.publish.adding import AddError, AddRequest, add_publication
from tracker.publish.pagemeta import read_govuk_content, read_html, read_pdf

# A charity's report page as such pages are built: OpenGraph and JSON-LD (Yoast's @graph).
REPORT_PAGE = """<!DOCTYPE html>
<html lang="en-GB"><head>
<meta charset="utf-8">
<title>Kinship carers&#8217; finances: a survey report | Kinship</title>
<meta name="description" content="What 1,200 kinship carers told us about money.">
<meta property="og:locale" content="en_GB">
<meta property="og:type" content="article">
<meta property="og:title" content="Kinship carers&#8217; finances: a survey report">
<meta property="og:site_name" content="Kinship">
<meta property="article:published_time" content="2025-04-09T08:15:00+00:00">
<script type="application/ld+json" class="yoast-schema-graph">{"@context":"https://schema.org","@graph":[
 {"@type":"Organization","@id":"https://kinship.org.uk/#organization","name":"Kinship"},
 {"@type":"Article","headline":"Kinship carers\u2019 finances: a survey report",
  "datePublished":"2025-04-09T08:15:00+00:00","publisher":{"@id":"https://kinship.org.uk/#organization",
  "name":"Kinship"}}]}</script>
</head><body><main><h1>Kinship carers' finances</h1></main></body></html>"""

# A research repository's page: Highwire citation tags win over OpenGraph.
RESEARCH_PAGE = """<html><head><title>Repository</title>
<meta name="citation_title" content="Outcomes of special guardianship: a cohort study">
<meta name="citation_publication_date" content="2025/03/28">
<meta name="citation_publisher" content="Nuffield Family Justice Observatory">
<meta property="og:title" content="Special guardianship study">
</head><body></body></html>"""


def pdf_bytes(title="Early help annual report 2024 to 2025", created="D:20250402101500+01'00'"):
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": title, "/Author": "J. Smith", "/CreationDate": created})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def run(*args):
    return CliRunner().invoke(cli, ["add", *map(str, args)], catch_exceptions=False)


def rows(db_path):
    return list(Database(db_path).query("select * from publications order by id"))


def test_reads_opengraph_and_json_ld():
    meta = read_html(REPORT_PAGE.encode())
    assert (meta.title, meta.published, meta.publisher, meta.summary) == (
        "Kinship carers\u2019 finances: a survey report", date(2025, 4, 9), "Kinship",
        "What 1,200 kinship carers told us about money.")


def test_citation_tags_win():
    meta = read_html(RESEARCH_PAGE.encode())
    assert (meta.title, meta.published, meta.publisher) == (
        "Outcomes of special guardianship: a cohort study", date(2025, 3, 28),
        "Nuffield Family Justice Observatory")


def test_a_bare_page_gives_its_title_without_the_site():
    meta = read_html(b"<html><head><title>Annual review 2025 | Family Rights Group</title></head></html>")
    assert (meta.title, meta.published) == ("Annual review 2025", None)


def test_reads_the_govuk_content_api(feeds_dir):
    meta = read_govuk_content((feeds_dir / "govuk-content-publication.json").read_bytes())
    assert (meta.title, meta.published, meta.document_type) == (
        "Number of ex-regular service personnel now part of FR20", date(2014, 2, 17), "Official statistics")


def test_reads_a_pdfs_properties():
    meta = read_pdf(pdf_bytes())
    assert (meta.title, meta.published, meta.publisher) == ("Early help annual report 2024 to 2025",
                                                            date(2025, 4, 2), "")
    assert read_pdf(b"%PDF-1.4 broken").title == ""


def test_add_reads_the_page_stores_manual_and_classifies(feed_server, db_path):
    url = feed_server.serve("/reports/kinship-finances", REPORT_PAGE, content_type="text/html; charset=utf-8")
    result = run(url, "--db", db_path)
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Added publication 1 (new): On 9 April 2025 Kinship launched "
                             "Kinship carers\u2019 finances: a survey report\n")
    [row] = rows(db_path)
    assert (row["source_id"], row["status"], row["published"], row["publisher"], row["url"]) == (
        "manual", "new", "2025-04-09", "Kinship", url)
    assert row["summary"] == "What 1,200 kinship carers told us about money."
    assert row["candidate_score"] is not None and "kinship" in json.loads(row["themes"])
    [audit] = Database(db_path).query("select * from audit_log")
    assert (audit["editor"], audit["action"], audit["new_value"]) == ("cli", "add", url)


def test_given_values_win_and_accept_is_audited(feed_server, db_path):
    url = feed_server.serve("/research", RESEARCH_PAGE, content_type="text/html")
    result = run(url, "--db", db_path, "--title", "Special guardianship outcomes", "--publisher", "the NFJO",
                 "--verb", "released", "--accept")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Added publication 1 (accepted): On 28 March 2025 the NFJO released "
                             "Special guardianship outcomes\n")
    [row] = rows(db_path)
    assert (row["status"], row["verb"]) == ("accepted", "released") and row["reviewed_at"]
    actions = [a["action"] for a in Database(db_path).query("select action from audit_log order by id")]
    assert actions == ["add", "set_status"]


def test_a_pdf_and_a_date_given(feed_server, db_path):
    url = feed_server.serve("/files/early-help.pdf", pdf_bytes(), content_type="application/pdf")
    assert run(url, "--db", db_path, "--date", "2025-04-03", "--publisher", "Foundations").exit_code == 0
    [row] = rows(db_path)
    assert (row["title"], row["published"], row["publisher"]) == (
        "Early help annual report 2024 to 2025", "2025-04-03", "Foundations")


def test_govuk_pages_are_read_through_the_content_api(feed_server, db_path, feeds_dir):
    content = json.loads((feeds_dir / "govuk-content-publication.json").read_text())
    content["links"] = {"organisations": [{"title": "Department for Education"}]}
    path = "/government/publications/number-of-ex-regular-service-personnel-now-part-of-fr20"
    feed_server.serve("/api/content" + path, json.dumps(content), content_type="application/json")
    added = add_publication(db_path, AddRequest(url="https://www.gov.uk" + path), "alice",
                            content_api=feed_server.url("/api/content"))
    assert added.created
    [row] = rows(db_path)
    assert (row["publisher"], row["document_type"], row["url"]) == (
        "DfE", "Official statistics", "https://www.gov.uk" + path)
    assert [r.path for r in feed_server.requests] == ["/api/content" + path]


def test_a_url_already_stored_changes_nothing(feed_server, db_path):
    url = feed_server.serve("/reports/kinship-finances", REPORT_PAGE, content_type="text/html")
    run(url, "--db", db_path)
    before = rows(db_path)
    fetched = len(feed_server.requests)
    result = run(url.replace("http://", "HTTP://") + "?utm_source=newsletter", "--db", db_path,
                 "--title", "Another title", "--accept")
    assert result.exit_code == 0
    assert result.stdout == ("Already stored as publication 1: "
                             "Kinship carers\u2019 finances: a survey report (nothing changed)\n")
    assert rows(db_path) == before and len(feed_server.requests) == fetched


@pytest.mark.parametrize("path, serve", [
    ("/gone", {"body": "Not here", "status": 404}),
    ("/untitled", {"body": "<html><body><p>No head</p></body></html>", "content_type": "text/html"}),
])
def test_no_title_and_an_unreadable_page_is_exit_2_and_stores_nothing(feed_server, db_path, path, serve):
    url = feed_server.serve(path, **serve)
    result = run(url, "--db", db_path)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"Error: no title for {url}: ") and result.stderr.count("\n") == 1
    assert not db_path.exists()


def test_no_title_leaves_an_existing_database_unchanged(feed_server, db_path, db):
    url = feed_server.serve("/gone", "Not here", status=404)
    assert run(url, "--db", db_path).exit_code == 2
    assert rows(db_path) == [] and db["audit_log"].count == 0


@pytest.mark.parametrize("args, message", [
    (["ftp://example.org/file"], "Error: 'ftp://example.org/file' is not a web address (http:// or https://)\n"),
    (["https://example.org/x", "--date", "2025-02-30"],
     "Error: Invalid value for '--date': 2025-02-30 is not a real date\n"),
    ([], "Error: Missing argument 'URL'.\n"),
])
def test_bad_input_is_one_line_and_exit_2(db_path, args, message):
    result = run(*args, "--db", db_path)
    assert (result.exit_code, result.stderr) == (2, message)
    assert not db_path.exists()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/admin", "http://localhost/", "http://10.0.0.5/report", "http://169.254.169.254/latest/",
    "http://[::1]/", "http://192.168.1.1/page",
])
def test_the_workspace_form_refuses_private_addresses(db_path, url):
    with pytest.raises(AddError, match="private address.*only public web addresses can be added here"):
        add_publication(db_path, AddRequest(url=url, title="Given anyway"), "alice", public_only=True)
    assert not db_path.exists()


def test_the_operator_may_add_a_local_address(feed_server, db_path):
    url = feed_server.serve("/intranet/report", REPORT_PAGE, content_type="text/html")
    assert add_publication(db_path, AddRequest(url=url), "cli").created
