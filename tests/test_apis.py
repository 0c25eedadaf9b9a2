"""The source types that read structured data (tracker/ingest/apis.py), on real-format files:
each through parse_body and normalise_entry, as a poll reads it."""

from __future__ import annotations

import json

import pytest

from tracker.ingest.config import ConfigError
from tracker.ingest.normalise import normalise_entry
from tracker.ingest.parse import ParseError, parse_body


def read(source, body, url=None, content_type=None):
    url = url or source.url
    raws = parse_body(source, body, content_type, url)
    return [normalise_entry(raw, base_url=url) for raw in raws]


def test_parliament_committees_api(make_source, feeds_dir):
    source = make_source(id="education-committee-publications", publisher="the HoC Education Committee",
                         type="parliament-committees", url="https://committees-api.parliament.uk/api/Publications",
                         params={"CommitteeId": 203, "SortOrder": "PublicationDateDescending"})
    entries = read(source, (feeds_dir / "parliament-committees-publications.json").read_bytes())
    recorded = json.loads((feeds_dir / "parliament-committees-publications.json").read_bytes())["items"]
    assert [e.title for e in entries] == [item["description"] for item in recorded]
    assert [e.published for e in entries] == ["2024-12-17", "2024-12-13"]
    assert [e.document_type for e in entries] == ["Correspondence", "Report"]
    for entry, item in zip(entries, recorded, strict=True):
        if item.get("additionalContentUrl"):
            assert entry.url == item["additionalContentUrl"]
        else:
            document = item["documents"][0]["documentId"]
            assert entry.url == (f"https://committees.parliament.uk/publications/{item['id']}"
                                 f"/documents/{document}/default/")
        assert entry.entry_id == f"https://committees.parliament.uk/publications/{item['id']}"
    # both kinds of link occur in the recorded response
    assert entries[1].url.startswith("https://publications.parliament.uk/")
    assert entries[0].url.endswith("/default/")


def test_committees_date_without_offset_is_london_time(make_source):
    source = make_source(type="parliament-committees", url="https://committees-api.parliament.uk/api/Publications")
    item = {"id": 1, "description": "Report", "publicationStartDate": "2024-07-01T00:30:00"}
    [entry] = read(source, json.dumps({"items": [item]}).encode())
    assert entry.published == "2024-07-01"  # 23:30 UTC on 30 June


def test_committees_api_errors_are_words(make_source):
    source = make_source(type="parliament-committees", url="https://committees-api.parliament.uk/api/Publications")
    with pytest.raises(ParseError, match="not JSON"):
        read(source, b"<!doctype html><title>Just a moment...</title>")
    with pytest.raises(ParseError, match="no list of items"):
        read(source, b'{"totalResults": 0}')


def test_caselaw_keeps_title_link_and_date_only(make_source, feeds_dir):
    source = make_source(id="case-law-family", publisher="the Family Court", type="caselaw",
                         url="https://caselaw.nationalarchives.gov.uk/atom.xml")
    body = (feeds_dir / "find-case-law.atom").read_bytes()
    [entry] = read(source, body)
    assert entry.title == "Jarndyce v. Jarndyce"
    assert entry.url.startswith("https://caselaw.nationalarchives.gov.uk/")
    assert not entry.url.endswith((".xml", ".pdf"))  # the HTML page, not the data or the PDF
    assert entry.published and entry.summary == ""
    assert entry.document_type == "Judgment"
    # The same file as a plain feed would keep whatever summary the entry carries.
    assert b"<summary" in body


def test_youtube_channel_feed_is_a_feed(make_source, feeds_dir):
    source = make_source(id="frg-youtube", publisher="FRG", type="feed",
                         url="https://www.youtube.com/feeds/videos.xml?channel_id=UCx1example0channel0id00")
    entries = read(source, (feeds_dir / "youtube-channel.atom").read_bytes())
    assert [(e.title, e.url, e.published) for e in entries] == [
        ("Kinship care: what the new guidance means for families",
         "https://www.youtube.com/watch?v=Ab3dEf6hIj9", "2025-04-02"),
        ("Family group conferences explained", "https://www.youtube.com/watch?v=Zy8xWv5uTs2", "2025-02-14"),
    ]
    assert entries[0].entry_id == "yt:video:Ab3dEf6hIj9"
    assert entries[0].updated == "2025-04-03T08:12:44Z"


def test_wordpress_rest_api(make_source, feeds_dir):
    source = make_source(id="charity", publisher="Foundations", type="wordpress",
                         url="https://charity.example/wp-json/wp/v2/posts")
    entries = read(source, (feeds_dir / "wordpress-posts.json").read_bytes())
    assert [(e.title, e.url, e.published) for e in entries] == [
        ("Evidence review: what works in family help – and what doesn’t",
         "https://charity.example/2025/02/07/evidence-review-family-help/", "2025-02-07"),
        ("Kinship carers’ survey 2024", "https://charity.example/2024/06/26/kinship-carers-survey-2024/",
         "2024-06-26"),
    ]
    assert entries[0].summary == "Our new review brings together 40 evaluations of family help services."
    assert entries[0].updated == "2025-02-10T14:02:11Z"  # modified_gmt is UTC
    assert entries[0].entry_id == "https://charity.example/?p=10512"


def test_wordpress_date_gmt_late_evening_is_the_next_london_day(make_source):
    source = make_source(type="wordpress", url="https://charity.example/wp-json/wp/v2/posts")
    post = {"link": "https://charity.example/a/", "title": {"rendered": "A"},
            "date": "2024-07-01T00:30:00", "date_gmt": "2024-06-30T23:30:00"}
    [entry] = read(source, json.dumps([post]).encode())
    assert entry.published == "2024-07-01"


def test_wordpress_errors_are_words(make_source):
    source = make_source(type="wordpress", url="https://charity.example/wp-json/wp/v2/posts")
    with pytest.raises(ParseError, match="rest_no_route|No route"):
        read(source, b'{"code":"rest_no_route","message":"No route was found matching the URL and request method.",'
                     b'"data":{"status":404}}')
    with pytest.raises(ParseError, match="not JSON"):
        read(source, b"<!DOCTYPE html><html></html>")


def test_sitemap_keeps_pages_under_its_paths_newest_first(make_source, feeds_dir):
    source = make_source(id="data-to-insight", publisher="Data 2 Insight", type="sitemap",
                         url="https://www.example.org/pages-sitemap.xml", paths="/publications-1/")
    entries = read(source, (feeds_dir / "sitemap.xml").read_bytes())
    assert [(e.title, e.published) for e in entries] == [
        ("Ssda903 validator guide", "2025-03-02"),
        ("Children's services benchmarking 2024", "2024-05-21"),
        ("Early help dashboard", None),  # no lastmod: dated when first seen
    ]
    assert entries[1].url == "https://www.example.org/publications-1/children's-services-benchmarking---2024"


def test_sitemap_without_paths_keeps_every_page_but_the_home_page(make_source, feeds_dir):
    source = make_source(type="sitemap", url="https://www.example.org/pages-sitemap.xml")
    entries = read(source, (feeds_dir / "sitemap.xml").read_bytes())
    assert len(entries) == 5 and "https://www.example.org/" not in {e.url for e in entries}


def test_sitemap_index_names_its_sitemaps(make_source, feeds_dir):
    source = make_source(type="sitemap", url="https://www.example.org/sitemap.xml")
    with pytest.raises(ParseError, match="sitemap index.*pages-sitemap.xml"):
        read(source, (feeds_dir / "sitemap-index.xml").read_bytes())
    with pytest.raises(ParseError, match="not a sitemap"):
        read(source, b"<rss version='2.0'><channel/></rss>")


def test_paths_only_for_sitemaps(make_source):
    with pytest.raises(ConfigError, match="only applies to sitemap"):
        make_source(type="feed", paths="/news/")
    with pytest.raises(ConfigError, match="path prefix"):
        make_source(type="sitemap", paths="news")
