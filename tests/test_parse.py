"""parse_body() on real-format files from tests/feeds/ and on every way a body can be wrong."""

import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tracker.ingest.config import Settings
from tracker.ingest.fetch import fetch, make_client
from tracker.ingest.normalise import normalise_entry
from tracker.ingest.parse import ParseError, parse_body

FEEDS = Path(__file__).resolve().parent / "feeds"
FEED_URL = "https://www.example.org/feed"
LISTING = dict(item="article.news-card", title=".news-card__title", link=".news-card__title a",
               date=".news-card__date", summary=".teaser")


@pytest.fixture
def feed_source(make_source):
    return make_source(type="feed", url=FEED_URL)


def parse_file(source, name, content_type="application/xml", url=FEED_URL):
    return parse_body(source, (FEEDS / name).read_bytes(), content_type, url)


def when(entry):
    """The UTC instant of a feedparser struct_time, as ISO text."""
    return datetime(*entry.published[:6], tzinfo=timezone.utc).isoformat()


def test_govuk_organisation_atom(feed_source):
    entries = parse_file(feed_source, "govuk-org.atom", "application/atom+xml; charset=utf-8")
    assert len(entries) == 4
    first = entries[0]
    assert first.title == ("Research and analysis: Good decisions: supporting children aged 16 "
                           "and 17 who need help when they are homeless")
    assert first.category == "Research and analysis"
    assert first.link == ("https://www.gov.uk/government/publications/"
                          "good-decisions-supporting-16-and-17-year-olds-who-are-homeless")
    assert first.entry_id.endswith("#2025-02-25T00:00:00Z")  # changes on update: dedupe is by URL
    # No <published> in this feed: <updated> is its date.
    assert when(first) == "2025-02-25T00:00:00+00:00" and first.date_source == "feed"
    assert entries[1].title == "Official Statistics: Children\u2019s social care in England 2024"


def test_govuk_finder_atom(feed_source):
    entries = parse_file(feed_source, "govuk-finder.atom", "application/atom+xml")
    assert [e.title for e in entries] == [
        "Family Court Statistics Quarterly: April to June 2024",
        "Youth Justice Statistics: 2023 to 2024",
        "Family Court Statistics Quarterly: October to December 2024",
    ]
    assert entries[0].entry_id == ("tag:www.gov.uk,2005:/government/statistics/"
                                   "family-court-statistics-quarterly-april-to-june-2024")
    assert when(entries[0]) == "2024-09-26T08:30:21+00:00"  # +01:00 in the feed
    assert "<p>" in entries[1].summary  # type="html": normalise strips it


def test_govuk_search_api_json(make_source):
    source = make_source(type="govuk-search", url="https://www.gov.uk/api/search.json",
                         params={"filter_organisations": "ofsted"})
    entries = parse_file(source, "govuk-search.json", "application/json", source.request_url)
    assert [e.link for e in entries] == [
        "https://www.gov.uk/government/statistics/family-court-statistics-quarterly-april-to-june-2024",
        "https://www.gov.uk/government/publications/good-decisions-supporting-16-and-17-year-olds-who-are-homeless",
        "https://www.gov.uk/government/publications/working-together-to-safeguard-children--2",
    ]  # the statistics announcement (a future release) is left out
    assert entries[0].published == "2024-09-26T09:30:21.000+01:00"
    assert entries[0].category is None and entries[1].category == "Research and analysis"
    assert entries[1].summary.endswith("\r\n\r\n\r\n")  # as recorded: normalise cleans it


def test_wordpress_rss(feed_source):
    entries = parse_file(feed_source, "wordpress.rss", "application/rss+xml; charset=UTF-8")
    first = entries[0]
    assert first.title == "Children\u2019s Commissioner\u2019s report on children in care placed far from home"
    assert first.entry_id == "https://www.childrenscommissioner.gov.uk/?p=36662"
    assert when(first) == "2024-05-23T23:30:00+00:00"
    assert first.summary.startswith("<p>This report looks at children in care")
    assert entries[1].title == "Family and Belonging: the Family Review & what children told us"


def test_drupal_rss(feed_source):
    entries = parse_file(feed_source, "drupal.rss", "application/rss+xml; charset=utf-8")
    assert [e.title for e in entries] == [
        "Children's social care: a case study in early help",
        "LGA responds to children's social care spending figures",
    ]
    assert entries[0].entry_id == "25107 at https://www.local.gov.uk"
    assert entries[0].link == "https://www.local.gov.uk/case-studies/childrens-social-care-case-study-early-help"


def test_rdf(feed_source):
    entries = parse_file(feed_source, "research.rdf", "application/rdf+xml")
    assert [e.title for e in entries] == ["Outcomes for children in kinship care", "Care leavers and housing"]
    assert when(entries[0]) == "2024-10-22T23:30:00+00:00"


def test_listing_page(make_source):
    url = "https://kinship.org.uk/our-work-and-impact/news"
    source = make_source(type="html", url=url, **LISTING)
    entries = parse_file(source, "listing.html", "text/html; charset=utf-8", url)
    assert [(e.title, e.link, e.published) for e in entries] == [
        ("Kinship carers\u2019 survey 2024: the results",
         "https://kinship.org.uk/our-work-and-impact/news/kinship-carers-survey-2024", "23 October 2024"),
        ("Our new film premieres this week",
         "https://kinship.org.uk/our-work-and-impact/news/kinship-film-premiere", "2025-04-07T18:30:00+01:00"),
        ("Kinship care report",
         "https://kinship.org.uk/research/kinship-report?utm_source=newsletter&utm_medium=email", None),
    ]  # the card without a link is skipped
    assert all(e.date_source == "page" for e in entries)
    assert entries[0].summary == "What more than 1,500 kinship carers told us about money, support & schools."


@pytest.mark.parametrize("name,content_type", [
    ("latin1-declared.rss", "application/rss+xml"),
    ("latin1-declared.rss", "application/rss+xml; charset=utf-8"),  # the header is wrong
    ("latin1-undeclared.rss", "text/xml"),
    ("latin1-undeclared.rss", "application/rss+xml; charset=ISO-8859-1"),
    ("latin1-undeclared.rss", None),
    ("utf8-labelled-latin1.rss", "text/xml; charset=iso-8859-1"),  # UTF-8 labelled Latin-1
    ("utf16.rss", "application/xml"),
    ("utf16.rss", "application/xml; charset=utf-8"),
])
def test_encodings(feed_source, name, content_type):
    entries = parse_file(feed_source, name, content_type)
    assert [e.title for e in entries] == [
        "Foster carers\u2019 pay: caf\u00e9 conversations across the UK",
        "State of the Nation\u2019s Foster Care 2024",
    ]
    assert entries[0].summary == "Na\u00efve assumptions about allowances \u2013 and what carers say."


def test_listing_page_charset_from_meta(make_source):
    page = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
            '</head><body><article class="news-card"><h3 class="news-card__title">'
            '<a href="/a">Barnardo\u2019s caf\u00e9 report</a></h3></article></body></html>')
    source = make_source(type="html", **LISTING)
    entries = parse_body(source, page.encode("cp1252"), "text/html", FEED_URL)
    assert entries[0].title == "Barnardo\u2019s caf\u00e9 report"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>t</title>
<item><title>&lol9;</title><link>https://www.example.org/a</link></item></channel></rss>"""
# One 100 kB entity used 20,000 times: feedparser's fallback parser would expand it to 2 GB
# (measured on Python 3.11 / expat 2.5: 65 s and 6 GB) because it looks "safe" (no "&" in it).
QUADRATIC = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY a "' + "x" * 100_000 + '">\n]>\n'
             '<rss version="2.0"><channel><title>t</title><item><title>' + "&a;" * 20_000
             + '</title><link>https://www.example.org/a</link></item></channel></rss>').encode()
BOMB = "the feed declares XML entities, which tracker refuses (a possible entity bomb)"


@pytest.mark.parametrize("body", [BILLION_LAUGHS, QUADRATIC, QUADRATIC.decode().encode("utf-16")],
                         ids=["billion-laughs", "quadratic", "quadratic-utf16"])
def test_entity_bombs_are_refused_quickly_and_cheaply(feed_source, body):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ParseError) as error:
            parse_body(feed_source, body, "application/rss+xml", FEED_URL)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(error.value) == BOMB
    assert time.perf_counter() - started < 2 and peak < 50 * 1024 * 1024


def test_entities_hidden_behind_a_comment_are_never_expanded(feed_source):
    """A "<a" in a comment ends feedparser's prolog early, so it ignores the declarations after
    it; expat sees them but its amplification limit stops it (and the C fast path with it)."""
    body = b"<?xml version='1.0'?><!-- <a> -->" + QUADRATIC.split(b"?>", 1)[1]
    started = time.perf_counter()
    entries = parse_body(feed_source, body, "application/rss+xml", FEED_URL)
    assert [e.title for e in entries] == ["&a;" * 20_000]  # left as written, not 2 GB
    assert time.perf_counter() - started < 10  # a bound against hanging, not a speed test


def test_external_entities_fetch_nothing(feed_source, feed_server):
    secret = feed_server.serve("/secret", b"SECRET")
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rss [ <!ENTITY net SYSTEM "{secret}"> <!ENTITY file SYSTEM "file:///etc/passwd"> ]>
<rss version="2.0"><channel><title>t</title>
<item><title>a &net; &file;</title><link>https://www.example.org/a</link></item></channel></rss>"""
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_body(feed_source, body.encode(), "application/rss+xml", FEED_URL)
    assert feed_server.requests == []


def test_external_dtd_is_not_fetched(feed_source, feed_server):
    dtd = feed_server.serve("/rss.dtd", b'<!ENTITY x "fetched">')
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "{dtd}">
<rss version="2.0"><channel><title>t</title>
<item><title>Old Netscape-style feed</title><link>https://www.example.org/a</link></item></channel></rss>"""
    entries = parse_body(feed_source, body.encode(), "application/rss+xml", FEED_URL)
    assert [e.title for e in entries] == ["Old Netscape-style feed"] and feed_server.requests == []


@pytest.mark.parametrize("body,message", [
    (b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><item><title>a</ti",
     "the feed is not valid XML (unclosed token)"),
    (b'{"results": []}', "the feed is not valid XML (not well-formed (invalid token))"),
    (b"Service temporarily unavailable", "the feed is not valid XML (syntax error)"),
    (b"  \n", "the server sent an empty response"),
    (b"<?xml version='1.0'?><note><to>editors</to></note>", "the response is not an RSS, Atom or RDF feed"),
])
def test_bodies_that_are_not_feeds(feed_source, body, message):
    with pytest.raises(ParseError) as error:
        parse_body(feed_source, body, "application/rss+xml", FEED_URL)
    assert str(error.value) == message


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/rss+xml"])
def test_web_page_at_feed_url(feed_source, content_type):
    with pytest.raises(ParseError) as error:
        parse_file(feed_source, "listing.html", content_type)
    assert str(error.value) == "the feed URL returned a web page, not a feed"


def test_empty_but_valid_feed_has_no_entries(feed_source):
    body = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Quiet</title></channel></rss>"
    assert parse_body(feed_source, body, "application/rss+xml", FEED_URL) == []


def test_feed_has_ended(feed_source):
    with pytest.raises(ParseError) as error:
        parse_file(feed_source, "govuk-feed-ended.atom", "application/atom+xml")
    assert str(error.value) == "GOV.UK says this feed has ended: find its replacement and update sources.yaml"


def rss(items: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>
<link>https://www.example.org/</link><description>d</description>{items}</channel></rss>""".encode()


def test_duplicate_guids_stay_distinct_by_link(feed_source):
    body = rss("""<item><title>One</title><link>https://www.example.org/one</link><guid>same</guid></item>
<item><title>Two</title><link>https://www.example.org/two</link><guid>same</guid></item>""")
    entries = parse_body(feed_source, body, "application/rss+xml", FEED_URL)
    assert [(e.title, e.link) for e in entries] == [
        ("One", "https://www.example.org/one"), ("Two", "https://www.example.org/two")]
    assert entries[0].entry_id == entries[1].entry_id


ORG_ATOM_ENTRY = """<entry><id>https://www.gov.uk{path}#2025-04-01T09:30:00+01:00</id>
<updated>2025-04-01T09:30:00+01:00</updated><link rel="alternate" type="text/html" href="https://www.gov.uk{path}"/>
<title>{label}: Children looked after in England</title><category label="{label}" term="{label}"/>
<summary>Figures.</summary></entry>"""


@pytest.mark.parametrize("path,label,kept", [
    ("/government/statistics/children-looked-after", "Official Statistics", True),
    ("/government/statistics/announcements/children-looked-after", "Official Statistics", False),
    ("/government/statistics/children-looked-after-2026", "Official Statistics announcement", False),
    ("/government/statistics/children-looked-after-2026", "Statistics release announcement", False),
])
def test_statistics_announcements_are_not_publications(feed_source, path, label, kept):
    # Organisation feeds cannot be filtered server-side: announcements of future releases
    # arrive beside the releases and are dropped by their path or display type.
    body = f"""<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<id>tag:www.gov.uk,2005:/government/organisations/department-for-education</id><title>DfE</title>
<updated>2025-04-01T09:30:00+01:00</updated>{ORG_ATOM_ENTRY.format(path=path, label=label)}</feed>""".encode()
    entries = parse_body(feed_source, body, "application/atom+xml", FEED_URL)
    assert [e.title for e in entries] == ([f"{label}: Children looked after in England"] if kept else [])


def test_relative_links_resolve_against_the_feed_url(feed_source):
    body = rss("""<item><title>Rooted</title><link>/news/rooted</link></item>
<item><title>Sibling</title><link>sibling</link></item>""")
    entries = parse_body(feed_source, body, "application/rss+xml", "https://www.example.org/blog/feed")
    assert [e.link for e in entries] == ["https://www.example.org/news/rooted",
                                         "https://www.example.org/blog/sibling"]


def test_permalink_guid_stands_in_for_a_missing_link(feed_source):
    body = rss("<item><title>Guid only</title><guid>https://www.example.org/g</guid></item>"
               "<item><title>Nothing to link to</title><guid isPermaLink='false'>42</guid></item>")
    entries = parse_body(feed_source, body, "application/rss+xml", FEED_URL)
    assert [e.link for e in entries] == ["https://www.example.org/g"]


def test_missing_dates_fall_back_to_first_seen(feed_source):
    body = rss("<item><title>Undated</title><link>https://www.example.org/u</link></item>")
    [entry] = parse_body(feed_source, body, "application/rss+xml", FEED_URL)
    assert entry.published is None
    normalised = normalise_entry(entry, base_url=FEED_URL)
    assert (normalised.published, normalised.date_source) == (None, "first_seen")


@pytest.mark.parametrize("body,message", [
    (b"<!DOCTYPE html><html><body>Search is down</body></html>",
     "the Search API URL returned a web page, not JSON"),
    (b"Bad gateway", "the Search API answered with something that is not JSON"),
    (b'{"error": "Unknown parameter"}', "the Search API answer has no list of results"),
    (b'[1, 2]', "the Search API answer has no list of results"),
])
def test_govuk_search_errors(make_source, body, message):
    source = make_source(type="govuk-search", url="https://www.gov.uk/api/search.json")
    with pytest.raises(ParseError) as error:
        parse_body(source, body, "application/json", source.url)
    assert str(error.value) == message


def test_govuk_search_skips_results_without_title_or_link(make_source):
    source = make_source(type="govuk-search", url="https://www.gov.uk/api/search.json")
    body = b'{"results": [{"title": "No link"}, "junk", {"title": "Ok", "link": "/a"}]}'
    assert [e.link for e in parse_body(source, body, "application/json", source.url)] == [
        "https://www.gov.uk/a"]


@pytest.mark.parametrize("selectors,message", [
    (dict(LISTING, item="li.result"),
     "the item selector 'li.result' matched nothing on the page (the page layout has probably changed)"),
    (dict(LISTING, link=".missing a"),
     "4 items matched 'article.news-card' but none had both a title ('.news-card__title') "
     "and a link ('.missing a')"),
])
def test_listing_selector_errors(make_source, selectors, message):
    source = make_source(type="html", **selectors)
    with pytest.raises(ParseError) as error:
        parse_file(source, "listing.html", "text/html", "https://kinship.org.uk/news")
    assert str(error.value) == message


SOURCES = [
    ("govuk-org.atom", "feed", {}, 4),
    ("govuk-finder.atom", "feed", {}, 3),
    ("govuk-search.json", "govuk-search", {}, 3),
    ("wordpress.rss", "feed", {}, 2),
    ("drupal.rss", "feed", {}, 2),
    ("research.rdf", "feed", {}, 2),
    ("listing.html", "html", LISTING, 3),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("name,kind,selectors,count", SOURCES, ids=[s[0] for s in SOURCES])
async def test_fetch_then_parse_over_http(feed_server, make_source, name, kind, selectors, count):
    """Each source type end to end over real HTTP; the second poll is a 304 that parses nothing."""
    url = feed_server.serve_file(f"/{name}", name, headers={"ETag": f'"{name}-1"'})
    source = make_source(type=kind, url=url, **selectors)
    async with make_client(Settings(timeout=5)) as client:
        first = await fetch(client, url, max_bytes=5 * 1024 * 1024)
        entries = parse_body(source, first.body, first.content_type, first.url)
        again = await fetch(client, url, etag=first.etag, max_bytes=5 * 1024 * 1024)
    assert first.error is None and len(entries) == count
    assert all(normalise_entry(e, base_url=first.url) for e in entries)
    assert again.not_modified and again.body is None


def test_markup_in_feed_text_ends_as_plain_text(feed_source):
    """feedparser's sanitiser is off for speed: clean_text must still leave no markup at all."""
    body = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>T</title><id>t</id><updated>2025-01-01T00:00:00Z</updated>
<entry><id>e</id><updated>2025-01-01T00:00:00Z</updated><link href="https://www.example.org/r"/>
<title type="html">&lt;script&gt;alert(1)&lt;/script&gt;Report &lt;em&gt;on&lt;/em&gt; care</title>
<summary type="xhtml">
<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">Safe <img src="x" onerror="y()"/>text</p></div></summary>
</entry></feed>"""
    [raw] = parse_body(feed_source, body, "application/atom+xml", FEED_URL)
    entry = normalise_entry(raw, base_url=FEED_URL)
    assert (entry.title, entry.summary) == ("Report on care", "Safe text")


AGREEMENT = {
    "rss-variants": rss("""
<item><title>  Spaced\n title </title><link> https://www.example.org/a </link>
  <content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">&lt;p&gt;Body&lt;/p&gt;</content:encoded>
  <dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">2024-01-02T23:30:00Z</dc:date></item>
<item><title>Guid link</title><guid>https://www.example.org/g</guid><description>d</description>
  <pubDate>Tue, 12 Mar 2024 00:01:00 GMT</pubDate><category domain="x">Cat</category></item>
<item><title>Relative guid</title><guid>rel</guid><link>/news/r</link></item>
<item><title>Opaque guid</title><guid isPermaLink="false">42 at https://www.example.org</guid><link>b</link></item>
<item><title>Undated</title><link>https://www.example.org/u</link></item>
<item><title>Bad date</title><link>https://www.example.org/bd</link><pubDate>sometime soon</pubDate></item>
<item><title><![CDATA[Caf&eacute; <em>report</em>]]></title><link>https://www.example.org/c</link></item>"""),
    "rss-root-base": b"""<rss version="2.0" xml:base="https://www.local.gov.uk/"><channel><title>LGA</title>
<item><title>One</title><link>publications/one</link><guid isPermaLink="false">1 at https://www.local.gov.uk</guid></item>
<item><title>Two</title><link>/case-studies/two</link><pubDate>Thu, 05 Dec 2024 00:01:00 +0000</pubDate></item>
</channel></rss>""",
    "atom-variants": b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>t</title><id>t</id><updated>2025-01-01T00:00:00Z</updated>
<entry><title type="html">A &lt;b&gt;b&lt;/b&gt;</title><id>x</id><link rel="self" href="https://www.example.org/self"/>
  <link rel="alternate" href="/alt"/><content type="html">&lt;p&gt;C&lt;/p&gt;</content>
  <published>2024-01-01T10:00:00+01:00</published><updated>2024-02-01T10:00:00Z</updated></entry>
<entry><title>No rel</title><link href="https://www.example.org/norel"/><link rel="enclosure" href="https://www.example.org/x.mp3"/>
  <summary>S</summary><content>Ctext</content><category term="t1"/></entry>
<entry><title>Enclosure only</title><link rel="enclosure" href="https://www.example.org/y.mp3"/></entry>
</feed>""",
}


@pytest.mark.parametrize("name", ["govuk-org.atom", "govuk-finder.atom", "wordpress.rss", "drupal.rss",
                                  "research.rdf", "rss-variants", "rss-root-base", "atom-variants"])
def test_fast_path_reads_feeds_as_feedparser_does(name):
    """The C-parser fast path must give exactly what feedparser gives, once normalised."""
    from dataclasses import replace

    from tracker.ingest.parse import entry_link, read_fast, read_with_feedparser

    body = AGREEMENT.get(name) or (FEEDS / name).read_bytes()
    url = "https://www.example.org/blog/feed"

    def normalised(items):
        return [normalise_entry(replace(i, link=entry_link(i, url)), base_url=url) for i in items]

    fast = read_fast(body, url)
    slow, problem = read_with_feedparser(body, body.decode(), "application/xml", url)
    assert fast is not None and problem is None and len(fast) >= 2
    assert normalised(fast) == normalised(slow)


@pytest.mark.parametrize("body", [
    rss("<item><title>Caf&eacute;</title><link>https://www.example.org/a</link></item>"),  # HTML entity
    b'<rss version="2.0"><channel><item xml:base="/x/"><title>B</title><link>b</link></item></channel></rss>',
    b'<feed xmlns="http://purl.org/atom/ns#"><entry><title>Atom 0.3</title></entry></feed>',
    rss(""),
], ids=["undefined-entity", "nested-xml-base", "atom-0.3", "no-items"])
def test_unusual_feeds_are_left_to_feedparser(body):
    from tracker.ingest.parse import read_fast

    assert read_fast(body, FEED_URL) is None


def test_undefined_html_entities_still_parse(feed_source):
    """Many real feeds use &nbsp; or &eacute; without declaring them: feedparser copes."""
    [entry] = parse_body(feed_source, rss(
        "<item><title>Caf&eacute;&nbsp;report</title><link>https://www.example.org/a</link></item>"),
        "application/rss+xml", FEED_URL)
    assert normalise_entry(entry, base_url=FEED_URL).title == "Caf\u00e9 report"


@pytest.mark.parametrize("bad", [
    "<item><title>B</title><link>http://[bad/x</link></item>",
    "<item><title>B</title><guid>http://[bad</guid></item>",
    "<item><title>B</title><link>https://a.org/b</link><guid>http://[x</guid></item>",
])
def test_a_link_or_guid_that_is_not_a_url_costs_its_entry_only(feed_source, bad):
    """urljoin raises on "http://[bad": it took the whole feed with it, on every poll."""
    body = ("<?xml version='1.0'?><rss version='2.0'><channel>"
            "<item><title>Good</title><link>https://a.org/g</link></item>" + bad + "</channel></rss>").encode()
    links = [e.link for e in parse_body(feed_source, body, "application/rss+xml", FEED_URL)]
    assert links[0] == "https://a.org/g" and set(links) <= {"https://a.org/g", "https://a.org/b"}


@pytest.mark.parametrize("text", ["2025-02-30", "2025-02-30T10:00:00Z", "2025-13-01"])
def test_an_impossible_iso_date_is_unknown_not_rolled_over(feed_source, text):
    body = ("<?xml version='1.0'?><rss version='2.0'><channel><item><title>T</title>"
            f"<link>https://a.org/t</link><pubDate>{text}</pubDate></item></channel></rss>").encode()
    [entry] = parse_body(feed_source, body, "application/rss+xml", FEED_URL)
    assert normalise_entry(entry, base_url=FEED_URL).published is None
