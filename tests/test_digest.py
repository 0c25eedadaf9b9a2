"""tracker digest: house style, formats, windows, order, networks, saving, bad input."""

import json
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.dates import LONDON
from tracker.ingest.config import load_config
from tracker.publish.digest import (
    DigestRequest,
    collect,
    digest_report,
    line,
    next_issue_date,
    render,
    save_digest,
    theme_networks,
)

ISSUE = date(2025, 4, 18)  # a Friday: issue 658


def run(*args):
    result = CliRunner().invoke(cli, ["digest", *args], catch_exceptions=False)
    return result


@pytest.fixture
def issue(db, add_publication):
    """A small week: two accepted reports (one with a PDF), two candidates, one rejected."""
    moj = add_publication(url="https://www.gov.uk/government/statistics/family-court-statistics-quarterly-october-to-december-2024",
                          themes=["family_justice"])
    db["documents"].insert({"publication_id": moj, "url": "https://assets.publishing.service.gov.uk/fcsq.pdf",
                            "content_type": "application/pdf", "pages": 36, "bytes": 1932905})
    add_publication('Children & families: <b>"what works"</b> [draft]', url="https://frg.org.uk/what-works/",
                    publisher="FRG", published="2025-04-02", themes=["kinship", "safeguarding"])
    add_publication("Kinship carers survey", url="https://kinship.org.uk/survey", publisher="Kinship",
                    status="new", published=None, first_seen="2025-04-16T10:00:00Z",
                    candidate_score=0.4, themes=["kinship"],
                    verb="published")  # the editor's verb over the suggested "launched"
    add_publication("Fostering better services", url="https://www.lgo.org.uk/fostering",
                    publisher="the Local Government and Social Care Ombudsman", status="new",
                    published="2025-04-15", first_seen="2025-04-15T08:00:00Z", candidate_score=0.9)
    add_publication("Teacher pay award", publisher="DfE", status="rejected", published="2025-04-10",
                    first_seen="2025-04-16T10:00:00Z", candidate_score=0.1)
    return db


EXPECTED = {
    "text": """\
Tools & Templates
=================

On 7 April MoJ published Family Court Statistics Quarterly: October to December 2024 (pdf, 36 pages)

On 2 April FRG published Children & families: <b>"what works"</b> [draft]

New this week, for the editors to review (first seen 12 to 18 April)
--------------------------------------------------------------------

On 15 April the Local Government and Social Care Ombudsman published Fostering better services

On 16 April Kinship published Kinship carers survey
""",
    "markdown": """\
## Tools & Templates

On 7 April MoJ published [Family Court Statistics Quarterly: October to December 2024](<https://www.gov.uk/government/statistics/family-court-statistics-quarterly-october-to-december-2024>) (pdf, 36 pages)

On 2 April FRG published [Children & families: \\<b\\>"what works"\\</b\\> \\[draft\\]](<https://frg.org.uk/what-works/>)

### New this week, for the editors to review (first seen 12 to 18 April)

On 15 April the Local Government and Social Care Ombudsman published [Fostering better services](<https://www.lgo.org.uk/fostering>)

On 16 April Kinship published [Kinship carers survey](<https://kinship.org.uk/survey>)
""",  # noqa: E501 - the lines exactly as the digest writes them
    "html": """\
<h2>Tools &amp; Templates</h2>

<p>On 7 April MoJ published <a href="https://www.gov.uk/government/statistics/family-court-statistics-quarterly-october-to-december-2024">Family Court Statistics Quarterly: October to December 2024</a> (pdf, 36 pages)</p>

<p>On 2 April FRG published <a href="https://frg.org.uk/what-works/">Children &amp; families: &lt;b&gt;&quot;what works&quot;&lt;/b&gt; [draft]</a></p>

<h3>New this week, for the editors to review (first seen 12 to 18 April)</h3>

<p>On 15 April the Local Government and Social Care Ombudsman published <a href="https://www.lgo.org.uk/fostering">Fostering better services</a></p>

<p>On 16 April Kinship published <a href="https://kinship.org.uk/survey">Kinship carers survey</a></p>
""",  # noqa: E501 - the lines exactly as the digest writes them
}


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_formats_through_the_cli(issue, db_path, fmt):
    result = run("--week", "2025-04-18", "--db", str(db_path), "--format", fmt)
    assert result.exit_code == 0, result.output
    assert result.stdout == EXPECTED[fmt]


def test_text_is_the_default_format(issue, db_path):
    assert run("--week", "2025-04-18", "--db", str(db_path)).stdout == EXPECTED["text"]


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_only_web_addresses_become_links(db, add_publication, fmt):
    add_publication("Sneaky", url="javascript:alert(1)")
    add_publication("From the newsletter", url="urn:tracker:newsletter:2025-04-18:3")
    out = render(collect(db, ISSUE), fmt)
    assert "javascript" not in out and "urn:tracker" not in out
    assert "published Sneaky" in out and "published From the newsletter" in out


def test_html_escapes_a_script_in_a_title(db, add_publication):
    add_publication("<script>alert('x')</script> & more", url='https://example.org/a"onmouseover="x')
    out = render(collect(db, ISSUE), "html")
    assert "<script>" not in out
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in out
    assert 'href="https://example.org/a&quot;onmouseover=&quot;x"' in out


@pytest.mark.parametrize("published, date_source, expected", [
    ("2025-04-07", "feed", "On 7 April MoJ published"),
    ("2025-04-01", "newsletter", "On 1 April MoJ published"),
    ("2025-03-01", "month", "In March MoJ published"),
    ("2025-03-31", "page", "On 31 March MoJ published"),
])
def test_uk_dates_without_a_year(db, add_publication, published, date_source, expected):
    add_publication(published=published, date_source=date_source)
    assert line(collect(db, ISSUE).accepted[0]).startswith(expected + " Family Court")


@pytest.mark.parametrize("pages, nbytes, suffix", [
    (36, 1932905, "(pdf, 36 pages)"),
    (1, 5000, "(pdf, 1 page)"),
    (None, 1932905, "(pdf, 1.9 MB)"),
    (None, 300, "(pdf, 1 KB)"),
])
def test_document_suffix(db, add_publication, pages, nbytes, suffix):
    pid = add_publication()
    db["documents"].insert({"publication_id": pid, "content_type": "application/pdf",
                            "pages": pages, "bytes": nbytes})
    assert line(collect(db, ISSUE).accepted[0]).endswith("December 2024 " + suffix)


def test_a_spreadsheet_gets_no_suffix(db, add_publication):
    pid = add_publication()
    db["documents"].insert({"publication_id": pid, "content_type": "text/csv", "bytes": 20480})
    assert line(collect(db, ISSUE).accepted[0]).endswith("December 2024")


# The accepted window is the 7 * N days ending on the issue date: for 12 weeks before Friday
# 18 April 2025 that is Saturday 25 January to 18 April inclusive.
@pytest.mark.parametrize("weeks, published, shown", [
    (12, "2025-04-18", True),
    (12, "2025-04-19", False),
    (12, "2025-01-25", True),
    (12, "2025-01-24", False),
    (1, "2025-04-12", True),
    (1, "2025-04-11", False),
])
def test_accepted_window_edges(db, add_publication, weeks, published, shown):
    add_publication(published=published)
    assert bool(collect(db, ISSUE, weeks).accepted) is shown


# first_seen is UTC; the window is in London days. 23:30 UTC in summer (BST) is already the
# next London day; in winter (GMT) it is not.
@pytest.mark.parametrize("first_seen, shown", [
    ("2025-04-11T23:30:00Z", True),   # 00:30 BST on Saturday 12 April: inside
    ("2025-04-11T22:59:59Z", False),  # 23:59 BST on Friday 11 April: the week before
    ("2025-04-18T22:59:59Z", True),   # 23:59 BST on the issue day
    ("2025-04-18T23:00:00Z", False),  # midnight BST: the day after the issue
])
def test_candidate_window_in_london_days(db, add_publication, first_seen, shown):
    add_publication(status="new", published=None, first_seen=first_seen)
    assert bool(collect(db, ISSUE).candidates) is shown


@pytest.mark.parametrize("first_seen, week, expected", [
    ("2025-01-24T23:30:00Z", ISSUE, None),  # GMT: still Friday 24 January, before the window
    ("2025-01-25T00:30:00Z", ISSUE, "On 25 January"),
    ("2024-10-26T23:30:00Z", date(2024, 10, 27), "On 27 October"),  # BST until 27 October 2024
])
def test_undated_publication_takes_the_london_date_it_was_first_seen(db, add_publication, first_seen,
                                                                       week, expected):
    add_publication(published=None, first_seen=first_seen)
    found = [line(item) for item in collect(db, week).accepted]
    assert found == ([f"{expected} MoJ published Family Court Statistics Quarterly: October to December 2024"]
                     if expected else [])


def test_undated_first_seen_at_2330_utc_in_summer_counts_as_the_next_day(db, add_publication):
    add_publication(published=None, first_seen="2025-04-18T23:30:00Z")  # 00:30 on 19 April
    assert collect(db, ISSUE).accepted == []
    assert line(collect(db, date(2025, 4, 19)).accepted[0]).startswith("On 19 April")


def test_newest_first_then_the_order_they_arrived(db, add_publication):
    for title, published in [("b", "2025-04-01"), ("c", "2025-04-07"), ("a", "2025-04-07"), ("d", "2025-02-01")]:
        add_publication(title, published=published)
    assert [item.title for item in collect(db, ISSUE).accepted] == ["c", "a", "b", "d"]


def test_candidates_best_first_unscored_last(db, add_publication):
    for title, score in [("low", 0.2), ("unscored", None), ("high", 0.95), ("mid", 0.5)]:
        add_publication(title, status="new", first_seen="2025-04-14T09:00:00Z", candidate_score=score)
    assert [item.title for item in collect(db, ISSUE).candidates] == ["high", "mid", "low", "unscored"]


def test_rejected_never_appear_and_status_set_in_sql_is_respected(issue, db_path):
    assert "Teacher pay award" not in run("--week", "2025-04-18", "--db", str(db_path)).stdout
    issue.execute("update publications set status = 'rejected' where publisher = 'MoJ'")
    issue.execute("update publications set status = 'accepted' where title = 'Kinship carers survey'")
    out = run("--week", "2025-04-18", "--db", str(db_path)).stdout
    assert "Family Court" not in out
    accepted, candidates = out.split("New this week")
    assert "On 16 April Kinship published Kinship carers survey" in accepted
    assert "Kinship carers survey" not in candidates


def test_by_network_groups_under_each_themes_network(db, add_publication):
    networks = {"kinship": "Kinship Care Network", "safeguarding": "AD Safeguarding network",
                "fostering": "Fostering Network"}
    add_publication("Both", themes=["kinship", "safeguarding"])
    add_publication("Kin only", themes=["kinship"], published="2025-04-01")
    add_publication("Unthemed", themes=[])
    add_publication("New fostering", status="new", first_seen="2025-04-14T09:00:00Z", themes=["fostering"])
    out = render(collect(db, ISSUE), "text", networks)
    assert out.split("\n\n") == [
        "Tools & Templates\n=================",
        "AD Safeguarding network\n-----------------------",
        "On 7 April MoJ published Both",
        "Fostering Network\n-----------------",
        "Nothing was accepted between 25 January 2025 and 18 April 2025.",
        "New this week, for the editors to review (first seen 12 to 18 April)\n"
        "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
        "On 7 April MoJ published New fostering",
        "Kinship Care Network\n--------------------",
        "On 7 April MoJ published Both",
        "On 1 April MoJ published Kin only",
        "Other\n-----",
        "On 7 April MoJ published Unthemed\n",
    ]


def test_by_network_through_the_cli_uses_themes_yaml(db, db_path, add_publication):
    networks = theme_networks()
    add_publication("Kinship and fostering", themes=["kinship", "fostering"])
    out = run("--week", "2025-04-18", "--db", str(db_path), "--by-network", "--format", "markdown").stdout
    for slug in ("kinship", "fostering"):
        heading = f"### {networks[slug]}"
        assert heading in out
        assert out.split(heading, 1)[1].lstrip().startswith("On 7 April MoJ published [Kinship and fostering]")


def test_a_week_with_nothing_accepted_says_so(db_path, db):
    result = run("--week", "2025-04-18", "--db", str(db_path))
    assert result.exit_code == 0
    assert "Nothing was accepted between 25 January 2025 and 18 April 2025." in result.stdout
    assert "No new candidates were first seen this week." in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--week", "2025-4-18"], "Invalid value for '--week': expected a date as YYYY-MM-DD, got '2025-4-18'"),
    (["--week", "18/04/2025"], "Invalid value for '--week': expected a date as YYYY-MM-DD, got '18/04/2025'"),
    (["--week", "2025-02-30"], "Invalid value for '--week': 2025-02-30 is not a real date"),
    (["--week", "2025-04-18", "--weeks", "0"], "Invalid value for '--weeks': 0 is not in the range 1<=x<=5200."),
    (["--week", "2025-04-18", "--weeks", "twelve"],
     "Invalid value for '--weeks': 'twelve' is not a valid integer range."),
    (["--week", "2025-04-18", "--format", "pdf"],
     "Invalid value for '--format': 'pdf' is not one of 'text', 'markdown', 'html'."),
])
def test_bad_input_is_one_line_and_exit_2(db, db_path, args, message):
    result = run(*args, "--db", str(db_path))
    assert (result.exit_code, result.stderr, result.stdout) == (2, f"Error: {message}\n", "")


def test_missing_database_says_how_to_create_one(tmp_path):
    # The installed command in a fresh process, run from another directory, as cron would.
    missing = tmp_path / "nowhere" / "tracker.db"
    tracker = Path(sys.executable).parent / "tracker"
    result = subprocess.run([str(tracker), "digest", "--week", "2025-04-18", "--db", str(missing)],
                            capture_output=True, text=True, cwd="/")
    assert result.returncode == 2
    assert result.stderr == f"Error: no database at {missing}: create one with `tracker poll --db {missing}`\n"
    assert not missing.exists()


def test_save_replaces_only_that_week(issue, db_path):
    first = save_digest(issue, date(2025, 4, 11), now=datetime(2025, 4, 10, 6, 0, tzinfo=timezone.utc))
    save_digest(issue, ISSUE, now=datetime(2025, 4, 17, 6, 0, tzinfo=timezone.utc))
    result = run("--week", "2025-04-18", "--db", str(db_path), "--save", "--format", "html")
    rows = {row["week"]: row for row in issue["digests"].rows}

    assert set(rows) == {"2025-04-11", "2025-04-18"}
    assert rows["2025-04-11"] == first
    saved = rows["2025-04-18"]
    assert saved["generated_at"] > "2025-04-17T05:00:00Z"
    assert (saved["html"], saved["text"]) == (result.stdout, EXPECTED["text"])
    assert saved["markdown"] == EXPECTED["markdown"]
    assert json.loads(saved["counts"]) == {"accepted": 2, "candidates": 2}
    assert saved["weeks"] == 12


def test_save_without_a_week_uses_the_coming_issue_day(issue, db_path):
    digest_report(db_path, DigestRequest(save=True), today=date(2025, 4, 14))
    assert [row["week"] for row in issue["digests"].rows] == ["2025-04-18"]


@pytest.mark.parametrize("today, issue_day, expected", [
    (date(2025, 4, 14), "friday", date(2025, 4, 18)),  # Monday
    (date(2025, 4, 18), "friday", date(2025, 4, 18)),  # the issue day itself
    (date(2025, 4, 19), "friday", date(2025, 4, 25)),  # Saturday: next week's
    (date(2025, 4, 16), "Tuesday", date(2025, 4, 22)),
    (date(2024, 12, 30), "friday", date(2025, 1, 3)),  # across the year
])
def test_next_issue_date(today, issue_day, expected):
    assert next_issue_date(today, issue_day) == expected


def test_issue_day_comes_from_sources_yaml(issue, db_path, tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text("settings:\n  issue_day: tuesday\nsources: []\n")
    digest_report(db_path, DigestRequest(save=True), load_config(sources).settings, today=date(2025, 4, 16))
    assert [row["week"] for row in issue["digests"].rows] == ["2025-04-22"]


@pytest.mark.parametrize("where", ["--sources", "./sources.yaml", "nowhere"])
def test_the_cli_finds_the_issue_day(issue, db_path, tmp_path, monkeypatch, where):
    """--sources FILE, else ./sources.yaml when there is one, else the default Friday."""
    day = {"--sources": "tuesday", "./sources.yaml": "wednesday", "nowhere": "friday"}[where]
    if where != "nowhere":
        folder = tmp_path / ("given" if where == "--sources" else "cwd")
        folder.mkdir()
        (folder / "sources.yaml").write_text(f"settings:\n  issue_day: {day}\nsources: []\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    monkeypatch.chdir(cwd)
    args = ["--sources", str(tmp_path / "given" / "sources.yaml")] if where == "--sources" else []
    result = run("--save", "--db", str(db_path), *args)
    assert result.exit_code == 0, result.output
    [week] = [date.fromisoformat(row["week"]) for row in issue["digests"].rows]
    assert week == next_issue_date(datetime.now(LONDON).date(), day)


def test_documents_looked_up_from_the_cli(db, db_path, add_publication, feed_server, make_source):
    from test_documents import pdf_bytes
    from tracker.store import sync_sources

    # The publisher is configured on this machine (loopback), so its links may stay here.
    sync_sources(db, [make_source(id="coalition", url=feed_server.url("/feed"))])
    url = feed_server.serve("/uploads/report.pdf", pdf_bytes(9), content_type="application/pdf")
    add_publication("Spending report", url=url, publisher="the Children's Charities Coalition",
                    source_id="coalition")
    args = ["--week", "2025-04-18", "--db", str(db_path), "--documents"]
    assert "Spending report (pdf, 9 pages)" in run(*args).stdout
    assert "Spending report (pdf, 9 pages)" in run(*args).stdout
    assert len(feed_server.requests_to("/uploads/report.pdf")) == 1


# Round trip on real history: import the two real issues, then ask the digest for each issue date.
NEWSLETTERS = Path(__file__).parents[2] / "shared" / "newsletters"
REAL_ISSUES = {
    # issue: (file, issue date, weeks wide enough to reach the issue's oldest line)
    626: ("000_10a1ba915aaf5b65.txt", date(2024, 9, 13), 18),  # back to 13 May 2024
    658: ("004_8649c7e1fd4b144e.txt", date(2025, 4, 18), 12),  # back to 1 February 2025
}

# Where the digest's line is not the issue's paragraph as printed, and why. Keys are the start of
# the issue's paragraph; values are the lines the digest writes for it. Every other paragraph of
# the two lists must come back exactly, character for character.
#
# Publishers are written as configured (tracker/data/publishers.yaml, sources.yaml), with straight
# apostrophes; the issues show curly ones because WordPress curls them when it renders a post, so
# "the Children's Commissioner" pasted in prints as "the Children’s Commissioner". Titles are kept
# exactly as published, curly or not.
NOT_EXACT = {
    626: {
        # A standing link at the top of every list (with a no-break space), not a publication.
        "We have produced a": [],
        # The house style elsewhere never names the weekday.
        "On Thursday 25 July": [
            "On 25 July LGA and County Councils Network published Towards an effective and "
            "financially sustainable approach to SEND in England"],
        # A joint line kept as written, but with the configured apostrophe, and the no-break
        # spaces around "SEEN" squashed to plain spaces.
        "On 10 July CSA Centre and Barnardo’s SEEN": [
            "On 10 July CSA Centre and Barnardo's SEEN published the first overview of research in "
            "relation to the sexual abuse of African, Asian and Caribbean heritage children."],
        # Two items glued into one paragraph (no break after "(Admin)."): the importer splits
        # them, and "the Childrens’ Commissioner" (misplaced apostrophe) is the configured name.
        "On 5 June Mr Justice Chamberlain": [
            "On 5 June Mr Justice Chamberlain published his final decision in the long running JR "
            "case involving ECPAT UK, Kent, Brighton and Hove and the Home Secretary and the "
            "Education Secratary. Neutral Citation Number: [2024] EWHC 1353 (Admin).",
            "On 24 May the Children's Commissioner published Children’s experiences as victims of crime"],
        # The paragraph wraps mid-sentence ("necessary\nknowledge"); the digest writes one line.
        "On 21 May Data 2 Insight": [
            "On 21 May Data 2 Insight published Children’s Social Care for Data People, an overview of "
            "the system, stakeholders, common local practice, and necessary knowledge for data "
            "professionals working in Children’s Social Care"],
    },
    658: {
        "We have produced a": [],
        "On 7 April the Children’s Charities Coalition": [
            "On 7 April the Children's Charities Coalition published Children’s services spending "
            "report: A long road to recovery – Local authority spending on early intervention "
            "children’s services 2010/11 to 2023/24"],
        # The issue writes both "the DfE" and "DfE" (same week, same publisher): "DfE" is configured.
        "On 20 March the DfE published": [
            "On 20 March DfE published The Families First Partnership (FFP) programme guide"],
        "On 27 February the Children’s Commissioner": [
            "On 27 February the Children's Commissioner published The educational journeys of "
            "children in secure settings"],
        # A typo for Ofsted.
        "On 25 February Oftsed published": [
            "On 25 February Ofsted published Good decisions: supporting children aged 16 and 17 who "
            "need help when they are homeless"],
        # The publisher's former name in brackets is dropped: its short name is "Foundations".
        "On 7 February Foundations (previously": [
            "On 7 February Foundations published Parenting through adversity, the second in a series "
            "of practice guides commissioned by the DfE to support the roll-out of the children’s "
            "social care national framework"],
    },
}


def issue_paragraphs(text: str) -> list[str]:
    """The issue's Tools & Templates list as printed: one paragraph per line of the list."""
    section = text.split("\nTools & Templates\n", 1)[1].split("\nContact Details\n", 1)[0]
    return [paragraph.strip() for paragraph in section.split("\n\n") if paragraph.strip()]


def expected_lines(issue: int, paragraphs: list[str]) -> tuple[list[str], int]:
    """The lines the digest must write for these paragraphs, and how many are the paragraph itself."""
    lines, exact, used = [], 0, []
    for paragraph in paragraphs:
        # str.split() folds no-break spaces too: keys are written with plain ones.
        starts = [start for start in NOT_EXACT[issue] if " ".join(paragraph.split()).startswith(start)]
        if starts:
            lines.extend(NOT_EXACT[issue][starts[0]])
            used.extend(starts)
        else:
            lines.append(paragraph)
            exact += 1
    assert sorted(used) == sorted(NOT_EXACT[issue]), "each documented difference is met once"
    return lines, exact


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    if not NEWSLETTERS.is_dir():
        pytest.skip(f"the real newsletters are not beside the project ({NEWSLETTERS} is absent)")
    from tracker.publish.newsletter import import_newsletter
    from tracker.store import open_database

    db = open_database(tmp_path_factory.mktemp("history") / "tracker.db")
    for name, issue_date, _ in REAL_ISSUES.values():
        import_newsletter(db, NEWSLETTERS / name, issue_date)
    yield db
    db.close()


# 626: 19 of its 23 dated paragraphs exactly (24 lines: one paragraph holds two items);
# 658: 21 of its 26. Together 40 of 49.
@pytest.mark.parametrize("issue, exact_count", [(626, 19), (658, 21)])
def test_round_trip_of_real_issues(history, issue, exact_count):
    name, issue_date, weeks = REAL_ISSUES[issue]
    paragraphs = issue_paragraphs((NEWSLETTERS / name).read_text(encoding="utf-8"))
    expected, exact = expected_lines(issue, paragraphs)

    digest = collect(history, issue_date, weeks)
    written = [line(item) for item in digest.accepted]

    for number, (want, got) in enumerate(zip(expected, written, strict=False), start=1):  # lengths: below
        assert got == want, f"issue {issue}, line {number}"
    assert len(written) == len(expected)
    assert exact == exact_count  # the figure quoted in the README
    assert digest.candidates == []  # history is all accepted


def test_round_trip_through_the_cli(history, tmp_path):
    name, issue_date, weeks = REAL_ISSUES[658]
    db_file = history.execute("pragma database_list").fetchone()[2]
    out = run("--week", issue_date.isoformat(), "--weeks", str(weeks), "--db", db_file).stdout
    paragraphs = out.split("\n\n")
    assert paragraphs[1] == ("On 7 April the Children's Charities Coalition published Children’s services "
                             "spending report: A long road to recovery – Local authority spending on early "
                             "intervention children’s services 2010/11 to 2023/24")
    assert "On 18 March Kinship premiered a A powerful short film" in out
    assert "On 3 April DfE advertised for a National Safeguarding Partner" in out


# --- The list an issue really holds (issue 10) ---

def test_accepted_this_week_is_listed_however_old_with_its_year(db, db_path, add_publication):
    add_publication("Annual report of the Chief Inspector", publisher="Ofsted", published="2024-12-17",
                    first_seen="2024-12-17T09:00:00Z", reviewed_at="2025-04-16T15:30:00Z")
    add_publication("Accepted long ago", published="2024-11-01", first_seen="2024-11-01T09:00:00Z",
                    reviewed_at="2024-11-02T10:00:00Z")
    result = run("--week", "2025-04-18", "--db", str(db_path), "--weeks", "1", "--candidates", "0")
    assert result.stdout == ("Tools & Templates\n=================\n\n"
                             "On 17 December 2024 Ofsted published Annual report of the Chief Inspector\n")


def test_acceptance_counts_as_a_london_date(db, add_publication):
    # 23:30 UTC on 18 April in summer time is 19 April in London: after the issue.
    add_publication("Late", published="2024-01-05", reviewed_at="2025-04-18T23:30:00Z")
    add_publication("Early", published="2024-01-05", reviewed_at="2025-04-11T23:30:00Z")  # 12 April
    assert [item.title for item in collect(db, ISSUE, 1).accepted] == ["Early"]


def test_a_month_only_date_in_another_year_carries_it(db, add_publication):
    add_publication("Winter bulletin", published="2024-12-01", date_source="month",
                    reviewed_at="2025-04-14T09:00:00Z")
    assert render(collect(db, ISSUE), "text").splitlines()[3] == "In December 2024 MoJ published Winter bulletin"


@pytest.mark.parametrize("k, shown", [(None, 3), ("2", 2), ("0", 0)])
def test_candidates_shortlist(db, db_path, add_publication, k, shown):
    for score in (0.9, 0.5, 0.1):
        add_publication(f"Candidate {score}", status="new", first_seen="2025-04-15T09:00:00Z",
                        candidate_score=score)
    args = ["--week", "2025-04-18", "--db", str(db_path)] + (["--candidates", k] if k else [])
    out = run(*args).stdout
    assert [line for line in out.splitlines() if "Candidate" in line] == [
        f"On 7 April MoJ published Candidate {score}" for score in (0.9, 0.5, 0.1)][:shown]
    assert ("New this week" in out) == (shown > 0)
    assert ("No new candidates" in out) is False


def test_candidates_zero_prints_no_heading_even_when_none_are_new(db, db_path):
    assert "New this week" not in run("--week", "2025-04-18", "--db", str(db_path), "--candidates", "0").stdout


def test_negative_candidates_is_one_line_and_exit_2(db, db_path):
    result = run("--week", "2025-04-18", "--db", str(db_path), "--candidates", "-1")
    assert (result.exit_code, result.stderr) == (
        2, "Error: Invalid value for '--candidates': -1 is not in the range x>=0.\n")


@pytest.mark.parametrize("title, document_type, url, verb", [
    ("Job vacancy: Senior Policy Officer", None, None, "advertised for"),
    ("We're recruiting: kinship care adviser", None, None, "advertised for"),
    ("Kinship carers survey 2025", None, None, "launched"),
    ("Children's social care reform", "Open consultation", None, "launched"),
    ("Life in care: a short film", None, None, "released"),
    ("Fostering voices", None, "https://www.youtube.com/watch?v=abc", "released"),
    ("Updated guidance on working together", None, None, "updated"),
    ("Family Court Statistics Quarterly", "Official Statistics", None, "published"),
])
def test_suggested_verb(db, add_publication, title, document_type, url, verb):
    from tracker.publish.kinds import suggest_verb

    assert suggest_verb(title, document_type, url) == verb
    add_publication(title, url=url, document_type=document_type)
    assert collect(db, ISSUE).accepted[0].verb == verb


def test_the_editors_verb_wins_over_the_suggestion(db, add_publication):
    add_publication("Job vacancy: Senior Policy Officer", verb="shared")
    assert line(collect(db, ISSUE).accepted[0]) == "On 7 April MoJ shared Job vacancy: Senior Policy Officer"


def test_by_type_groups_by_what_the_publications_are(db, db_path, add_publication):
    add_publication("Working together to safeguard children", document_type="Statutory guidance")
    add_publication("Child safeguarding practice review: Child Q", published="2025-04-06")
    add_publication("Children looked after in England statistics", published="2025-04-05")
    add_publication("Kinship carers' experiences: research findings", published="2025-04-04")
    add_publication("A newsletter", published="2025-04-03")
    out = run("--week", "2025-04-18", "--db", str(db_path), "--by-type", "--candidates", "0").stdout
    assert out.split("\n\n") == [
        "Tools & Templates\n=================",
        "Case reviews\n------------",
        "On 6 April MoJ published Child safeguarding practice review: Child Q",
        "Guidance\n--------",
        "On 7 April MoJ published Working together to safeguard children",
        "Research and reports\n--------------------",
        "On 4 April MoJ published Kinship carers' experiences: research findings",
        "Statistics\n----------",
        "On 5 April MoJ published Children looked after in England statistics",
        "Other\n-----",
        "On 3 April MoJ published A newsletter\n",
    ]


def test_the_lists_read_their_window_from_indexes_not_every_row_of_a_status(issue):
    # At a million publications the accepted list read every accepted row (1.65 s): each
    # branch of its condition must be a search on an index that narrows by the window too.
    statements = []
    issue.conn.set_trace_callback(statements.append)
    try:
        collect(issue, ISSUE)
    finally:
        issue.conn.set_trace_callback(None)
    lists = [sql for sql in statements if "from publications p" in sql]
    assert len(lists) == 2  # the accepted list and the candidates
    for sql in lists:
        plan = [row[3] for row in issue.conn.execute("explain query plan " + sql)]
        reads = [step for step in plan if step.split(" USING ")[0]
                 in ("SCAN p", "SEARCH p", "SCAN publications", "SEARCH publications")]
        assert reads and all(step.startswith("SEARCH") and "(status=?)" not in step for step in reads), plan
