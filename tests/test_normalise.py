"""Keys, text and dates: the rules that make a poll idempotent and the digest's dates right."""

import time
from datetime import date, datetime, timezone

import pytest

from tracker.dates import london_date, to_datetime
from tracker.entries import RawEntry
from tracker.ingest.normalise import clean_url, normalise_entry, strip_display_type, url_key
from tracker.text import clean_text, title_key


@pytest.mark.parametrize("url,clean", [
    ("HTTPS://WWW.Gov.UK/government/news/x#contents", "https://www.gov.uk/government/news/x"),
    ("https://example.org", "https://example.org/"),
    ("http://example.org:80/a", "http://example.org/a"),
    ("https://example.org:443/a", "https://example.org/a"),
    ("https://example.org:8443/a", "https://example.org:8443/a"),
    ("https://www.jrf.org.uk/report?dm_i=4OG9,8AB1&page=2", "https://www.jrf.org.uk/report?page=2"),
    ("https://a.org/x?utm_source=rss&utm_medium=rss&utm_campaign=feed", "https://a.org/x"),
    ("https://a.org/x?UTM_Source=rss&fbclid=1&gclid=2&mc_cid=3&id=7", "https://a.org/x?id=7"),
    # kept parameters keep their encoding and order: the URL stays the one published
    ("https://a.org/s?q=a%20b&filter=from:2025&utm_term=z&x=1+2", "https://a.org/s?q=a%20b&filter=from:2025&x=1+2"),
    ("https://a.org/report with space.pdf", "https://a.org/report%20with%20space.pdf"),
    ("http://[::1]:8080/feed", "http://[::1]:8080/feed"),
])
def test_clean_url(url, clean):
    assert clean_url(url) == clean


@pytest.mark.parametrize("link,base,clean", [
    ("/government/publications/x", "https://www.gov.uk/api/search.json?count=100",
     "https://www.gov.uk/government/publications/x"),
    ("../research/report", "https://kinship.org.uk/our-work-and-impact/news",
     "https://kinship.org.uk/research/report"),
    ("report", "https://a.org/news/", "https://a.org/news/report"),
    ("https://other.org/a", "https://a.org/", "https://other.org/a"),
])
def test_clean_url_resolves_relative_links(link, base, clean):
    assert clean_url(link, base) == clean


@pytest.mark.parametrize("a,b", [
    ("https://www.local.gov.uk/publications/x", "http://local.gov.uk/publications/x/"),
    ("https://www2.local.gov.uk/publications/x", "https://local.gov.uk/publications/x"),
    ("https://WWW.GOV.UK/a?utm_source=email", "https://www.gov.uk/a#section-1"),
    ("https://a.org/a b", "https://a.org/a%20b"),
])
def test_url_key_folds_variants_of_one_publication(a, b):
    assert url_key(a) == url_key(b)


@pytest.mark.parametrize("a,b", [
    ("https://a.org/report?id=1", "https://a.org/report?id=2"),
    ("https://a.org/Report", "https://a.org/report"),  # paths are case-sensitive
    ("https://news.a.org/x", "https://a.org/x"),
])
def test_url_key_keeps_different_publications_apart(a, b):
    assert url_key(a) != url_key(b)


@pytest.mark.parametrize("value,text", [
    ("Children&#8217;s services", "Children\u2019s services"),
    ("Children&amp;#8217;s services", "Children\u2019s services"),  # escaped twice
    ("Fish &amp;amp; chips", "Fish & chips"),
    ("<p>This report looks at <strong>children</strong> in care &#8211; and what it means.&#8230;</p>",
     "This report looks at children in care \u2013 and what it means.\u2026"),
    ("<p>One</p><p>Two</p>", "One Two"),
    ("Line<br>break", "Line break"),
    ("Barnardo<span>&#8217;</span>s", "Barnardo\u2019s"),  # inline markup joins, blocks separate
    ("<script>alert(1)</script>Text<style>p{}</style>", "Text"),
    ("A &amp; B &lt;b&gt;", "A & B <b>"),
    ("R&D and AT&T", "R&D and AT&T"),
    ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
    ("Description with trailing space \r\n\r\n\r\n", "Description with trailing space"),
    ("non\u00a0breaking&nbsp;spaces", "non breaking spaces"),
    ("zero\u200bwidth\x07bell", "zerowidthbell"),
    (None, ""),
    ("", ""),
])
def test_clean_text(value, text):
    assert clean_text(value) == text


@pytest.mark.parametrize("title,category,clean", [
    ("Research and analysis: Good decisions", "Research and analysis", "Good decisions"),
    ("Official Statistics: Children's social care in England 2024", "Official Statistics",
     "Children's social care in England 2024"),
    ("guidance: lower case", "Guidance", "lower case"),
    ("Guidance: no category given", None, "Guidance: no category given"),
    ("Family Court Statistics Quarterly: April to June 2024", "Official Statistics",
     "Family Court Statistics Quarterly: April to June 2024"),
])
def test_strip_display_type(title, category, clean):
    assert strip_display_type(title, category) == clean


def test_title_key_folds_quotes_case_and_ampersands():
    assert title_key("Barnardo\u2019s & NSPCC: Report") == title_key("barnardo's and nspcc report")


@pytest.mark.parametrize("value,expected", [
    ("7th February 2025", date(2025, 2, 7)),
    ("1st May 2024", date(2024, 5, 1)),
    ("Monday 17 July 2023", date(2023, 7, 17)),
    ("23 October 2024", date(2024, 10, 23)),
    ("6 March 2025", date(2025, 3, 6)),
    ("26/02/25", date(2025, 2, 26)),
    ("05/03/2024", date(2024, 3, 5)),  # UK order: 5 March
    ("Decision date : 04 Oct 2023", date(2023, 10, 4)),
    ("Last updated: 31 May 2024", date(2024, 5, 31)),
    ("5 Sept 2024", date(2024, 9, 5)),
    ("Published 2024-10-23", date(2024, 10, 23)),
    ("2024-09-02", date(2024, 9, 2)),
    ("Tue, 12 Mar 2024 00:01:00 +0000", date(2024, 3, 12)),
    ("2024-09-26T09:30:21.000+01:00", date(2024, 9, 26)),
    ("2024-12-17T10:15:00", date(2024, 12, 17)),  # no zone: London, as UK publishers mean
    ("31/02/2025", None),
    ("May 2024", None),
    ("Thursday 25 July", None),
    ("no date here", None),
    ("", None),
])
def test_uk_dates(value, expected):
    assert london_date(value) == expected


@pytest.mark.parametrize("value,expected", [
    ("October 10, 2022", date(2022, 10, 10)),
    ("Date Published October 10, 2022", date(2022, 10, 10)),
    ("10/09/2022", date(2022, 10, 9)),
])
def test_month_first_dates(value, expected):
    assert london_date(value, "MDY") == expected


@pytest.mark.parametrize("instant,expected", [
    # GMT in winter: the UTC date is the London date
    ("2024-01-15T23:59:00Z", date(2024, 1, 15)),
    ("2024-01-16T00:00:00Z", date(2024, 1, 16)),
    # BST: 23:30 UTC is already the next day in London
    ("2024-07-24T23:30:00Z", date(2024, 7, 25)),
    ("2024-07-24T22:59:59Z", date(2024, 7, 24)),
    # clocks go forward at 01:00 UTC on 31 March 2024
    ("2024-03-30T23:30:00Z", date(2024, 3, 30)),
    ("2024-03-31T23:30:00Z", date(2024, 4, 1)),
    # clocks go back at 01:00 UTC on 27 October 2024
    ("2024-10-26T23:30:00Z", date(2024, 10, 27)),
    ("2024-10-27T23:30:00Z", date(2024, 10, 27)),
    # a +01:00 midnight (GOV.UK's date-only timestamps) stays on its day
    ("2024-09-26T00:00:00.000+01:00", date(2024, 9, 26)),
])
def test_london_date_boundaries(instant, expected):
    assert london_date(instant) == expected


def test_struct_time_from_feedparser_is_utc():
    struct = time.strptime("2024-05-23 23:30:00", "%Y-%m-%d %H:%M:%S")
    assert to_datetime(struct) == datetime(2024, 5, 23, 23, 30, tzinfo=timezone.utc)
    assert london_date(struct) == date(2024, 5, 24)


def test_normalise_entry_from_a_govuk_org_feed():
    raw = RawEntry(
        title="Official Statistics: Children&#8217;s social care in England 2024",
        link="https://www.gov.uk/government/statistics/childrens-social-care?utm_source=feed#x",
        summary="<p>Places &amp; outcomes</p>",
        published="2024-07-24T23:30:00Z", updated="2024-07-24T23:30:00Z",
        entry_id="https://www.gov.uk/government/statistics/childrens-social-care#2024-07-24T23:30:00Z",
        category="Official Statistics",
    )
    entry = normalise_entry(raw, base_url="https://www.gov.uk/government/organisations/ofsted.atom")
    assert entry.title == "Children\u2019s social care in England 2024"
    assert entry.url == "https://www.gov.uk/government/statistics/childrens-social-care"
    assert entry.url_key == "gov.uk/government/statistics/childrens-social-care"
    assert (entry.summary, entry.published, entry.date_source) == ("Places & outcomes", "2024-07-25", "feed")
    assert entry.updated == "2024-07-24T23:30:00Z" and entry.document_type == "Official Statistics"


@pytest.mark.parametrize("raw", [
    RawEntry(title="No link", link=""),
    RawEntry(title="", link="https://a.org/x"),
    RawEntry(title="<p> </p>", link="https://a.org/x"),
    RawEntry(title="Mail", link="mailto:someone@example.org"),
    RawEntry(title="Script", link="javascript:alert(1)"),
    RawEntry(title="Bad port", link="http://a.org:port/x"),
])
def test_normalise_entry_drops_unusable_items(raw):
    assert normalise_entry(raw, base_url="https://a.org/feed") is None


def test_undated_and_page_dated_entries():
    undated = normalise_entry(RawEntry(title="T", link="/a", date_source="page"), base_url="https://a.org/")
    assert (undated.published, undated.date_source, undated.url) == (None, "first_seen", "https://a.org/a")
    dated = normalise_entry(RawEntry(title="T", link="/a", published="Monday 17 July 2023", date_source="page"),
                            base_url="https://a.org/")
    assert (dated.published, dated.date_source) == ("2023-07-17", "page")
    us = normalise_entry(RawEntry(title="T", link="/a", published="October 10, 2022", date_source="page"),
                         base_url="https://a.org/", date_order="MDY")
    assert us.published == "2022-10-10"


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+01:00",  # out of datetime's range once moved to London: it raised
    "9999-12-31T23:00:00-05:00",
    "1970-01-01",  # a placeholder that would push a publication out of every list
    "1989-12-31",
    "2027-06-01",  # more than a year after 'today' below
])
def test_dates_outside_a_sane_range_are_unknown(value):
    raw = RawEntry(title="T", link="/a", published=value, updated=value)
    entry = normalise_entry(raw, base_url="https://a.org/", today=date(2026, 1, 15))
    assert (entry.published, entry.date_source, entry.updated) == (None, "first_seen", None)


def test_dates_inside_the_range_are_kept():
    raw = RawEntry(title="T", link="/a", published="1990-01-01", updated="2026-12-31T10:00:00Z")
    entry = normalise_entry(raw, base_url="https://a.org/", today=date(2026, 1, 15))
    assert (entry.published, entry.updated) == ("1990-01-01", "2026-12-31T10:00:00Z")


def test_a_long_title_is_cut_at_a_word_and_kept_whole_in_the_summary():
    words = " ".join(f"word{n}" for n in range(400))
    entry = normalise_entry(RawEntry(title=words, link="/a", summary="Body."), base_url="https://a.org/")
    assert len(entry.title) <= 500 and entry.title.endswith("\u2026")
    assert words.startswith(entry.title[:-1]) and entry.title[-2] != " "
    assert entry.summary == words + " Body."


@pytest.mark.parametrize("tag", ["iframe", "textarea", "title", "xmp", "noembed", "noframes", "plaintext"])
def test_raw_text_tags_in_a_title_leave_no_markup(tag):
    assert clean_text(f"Care review <{tag}>2025") == "Care review 2025"


@pytest.mark.parametrize("a,b", [
    ("https://a.org/news/x?sid=4f1c2&id=7", "https://a.org/news/x?sid=99aa&id=7"),
    ("https://a.org/news/x;jsessionid=ABC123", "https://a.org/news/x;jsessionid=DEF456"),
    ("https://a.org/x?PHPSESSID=1", "https://a.org/x"),
])
def test_rotating_session_ids_do_not_make_a_new_publication(a, b):
    assert url_key(a) == url_key(b)
    assert "sess" not in clean_url(a).lower() and "sid=" not in clean_url(a)
