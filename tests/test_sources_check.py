"""tracker sources check against the local test server (tests/feedserver.py), never the network:
what works, what is wrong in words, and the sources.yaml entry proposed instead."""

from __future__ import annotations

import json
from datetime import date

import yaml
from click.testing import CliRunner

from tracker.cli import cli
from tracker.ingest.check import check_sources
from tracker.ingest.config import parse_config
from tracker.ingest.discover import advertised_feeds, wordpress_api

TODAY = date(2026, 11, 30)
EMPTY_RSS = b"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Site</title>
<link>https://charity.example/</link><description>Site</description></channel></rss>"""


def wordpress_page(server) -> str:
    """A WordPress listing page as WordPress writes its head: the posts feed (empty here, as EPI's
    is), the comments feed, and the REST API root; the cards match no configured selector."""
    base = server.url("")
    return f"""<!DOCTYPE html><html lang="en-GB"><head><meta charset="UTF-8">
<link rel="alternate" type="application/rss+xml" title="Charity &raquo; Feed" href="{base}/feed/" />
<link rel="alternate" type="application/rss+xml" title="Charity &raquo; Comments Feed" href="{base}/comments/feed/" />
<link rel="https://api.w.org/" href="{base}/wp-json/" />
<link rel="EditURI" type="application/rsd+xml" title="RSD" href="{base}/xmlrpc.php?rsd" />
</head><body><div class="wp-block-post-template"><h2 class="wp-block-post-title">
<a href="{base}/2025/02/07/evidence-review-family-help/">Evidence review</a></h2></div></body></html>"""


def config_for(server, *sources):
    return parse_config({"sources": list(sources)})


def test_proposes_the_wordpress_api_when_selectors_match_nothing(feed_server, feeds_dir):
    feed_server.serve("/news/", wordpress_page(feed_server), content_type="text/html; charset=UTF-8")
    feed_server.serve("/feed/", EMPTY_RSS)
    feed_server.serve_file("/wp-json/wp/v2/posts", "wordpress-posts.json")
    config = config_for(feed_server, {
        "id": "charity-news", "publisher": "Foundations", "type": "html", "url": feed_server.url("/news/"),
        "item": "article.news-card", "title": "h3 a", "link": "h3 a"})
    [check] = check_sources(config, list(config.sources))
    assert not check.works and check.items == 0
    assert "matched nothing" in check.problem
    proposal = check.proposal
    assert proposal is not None and proposal.type == "wordpress"
    assert proposal.url == feed_server.url("/wp-json/wp/v2/posts")
    assert (proposal.items, proposal.newest) == (2, "2025-02-07")
    # The snippet is a sources.yaml entry that the real validator accepts as it stands.
    snippet = proposal.snippet(check.source, TODAY)
    [replacement] = parse_config({"sources": yaml.safe_load(snippet)}).sources
    assert (replacement.id, replacement.type, replacement.url) == (
        "charity-news", "wordpress", feed_server.url("/wp-json/wp/v2/posts"))
    assert "2 items, newest 2025-02-07" in snippet
    # The comments feed was never tried; nothing was fetched twice.
    assert not feed_server.requests_to("/comments/feed/")
    assert len(feed_server.requests_to("/news/")) == 1


def test_a_working_feed_needs_no_proposal(feed_server):
    config = config_for(feed_server, {"id": "org", "publisher": "DfE", "type": "feed",
                                      "url": feed_server.url("/feeds/govuk-org.atom")})
    [check] = check_sources(config, list(config.sources))
    assert check.works and check.items > 0 and check.newest and check.problem is None
    assert check.proposal is None
    assert len(feed_server.requests) == 1  # no discovery for a source that works


def test_a_broken_feed_gets_the_feed_its_home_page_advertises(feed_server):
    feed_server.serve("/", """<!doctype html><html><head>
<link rel="alternate" type="application/atom+xml" title="News" href="/feeds/govuk-org.atom">
</head><body></body></html>""", content_type="text/html")
    config = config_for(feed_server, {"id": "moved", "publisher": "DfE", "type": "feed",
                                      "url": feed_server.url("/rss.xml")})
    [check] = check_sources(config, list(config.sources))
    assert not check.works and "404" in check.problem
    assert check.proposal.type == "feed" and check.proposal.url == feed_server.url("/feeds/govuk-org.atom")
    assert check.proposal.how.startswith("the feed ")


def test_a_site_with_only_a_sitemap_index_gets_its_pages_sitemap(feed_server, feeds_dir):
    index = (feeds_dir / "sitemap-index.xml").read_text().replace("https://www.example.org", feed_server.url(""))
    feed_server.serve("/sitemap.xml", index)
    feed_server.serve_file("/pages-sitemap.xml", "sitemap.xml")
    config = config_for(feed_server, {"id": "wix", "publisher": "Data 2 Insight", "type": "feed",
                                      "url": feed_server.url("/blog-feed.xml")})
    [check] = check_sources(config, list(config.sources))
    assert not check.works
    assert check.proposal.type == "sitemap"
    assert check.proposal.url == feed_server.url("/pages-sitemap.xml")  # "page" ranks before nothing
    assert "paths:" in check.proposal.snippet(check.source, TODAY)


def test_no_alternative_is_said_so(feed_server):
    config = config_for(feed_server, {"id": "gone", "publisher": "DfE", "type": "feed",
                                      "url": feed_server.url("/gone.rss")})
    [check] = check_sources(config, list(config.sources))
    assert not check.works and check.proposal is None


def test_discovery_reads_what_pages_advertise():
    page = """<html><head><link rel="alternate" type="application/rss+xml" href="/feed/">
<link rel="alternate" type="application/rss+xml" title="x &raquo; Comments Feed" href="/comments/feed/">
<link rel="alternate" hreflang="cy" href="/cy/"><link rel="https://api.w.org/" href="/wp-json/"></head></html>"""
    assert advertised_feeds(page, "https://a.example/news/") == ["https://a.example/feed/"]
    assert wordpress_api(page, "https://a.example/news/") == "https://a.example/wp-json/wp/v2/posts"
    plain = '<link rel="https://api.w.org/" href="https://a.example/?rest_route=/">'
    assert wordpress_api(plain, "https://a.example/") == "https://a.example/?rest_route=/wp/v2/posts"
    assert wordpress_api("<html></html>", "https://a.example/") is None


def test_cli_table_json_and_unreadable_file(feed_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [
        {"id": "org", "publisher": "DfE", "type": "feed", "url": feed_server.url("/feeds/govuk-org.atom")},
        {"id": "gone", "publisher": "DfE", "type": "feed", "url": feed_server.url("/gone.rss")},
    ]}))
    runner = CliRunner()
    table = runner.invoke(cli, ["sources", "check"])
    assert table.exit_code == 0, table.output
    assert "2 sources checked: 1 work, 1 do not." in table.output
    assert "No feed, WordPress API or sitemap found for: gone" in table.output
    as_json = runner.invoke(cli, ["sources", "check", "--json", "--source", "gone"])
    assert as_json.exit_code == 0
    [row] = json.loads(as_json.output)
    assert (row["source"], row["works"], row["items"], row["proposal"]) == ("gone", False, 0, None)
    assert "404" in row["problem"]
    (tmp_path / "bad.yaml").write_text("sources: [")
    bad = runner.invoke(cli, ["sources", "check", "--sources", "bad.yaml"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1
    missing = runner.invoke(cli, ["sources", "check", "--source", "nope"])
    assert missing.exit_code == 2 and "unknown source id: nope" in missing.output
