"""sources.yaml validation: every mistake is one line naming the source and what is wrong."""

import re

import pytest
import yaml
from click.testing import CliRunner

from tracker.cli import cli
from tracker.ingest.config import ConfigError, Settings, load_config, parse_config, parse_duration

# The names the two real newsletters write; each must be a configured publisher.
NEWSLETTER_PUBLISHERS = [
    "DfE", "Ofsted", "MoJ", "the Child Safeguarding Practice Review Panel", "ONS",
    "the Children's Commissioner", "LGA", "NSPCC", "Barnardo's", "Action for Children",
    "The Children's Society", "NCB", "Kinship", "FRG", "Become", "The Fostering Network",
    "Foundations", "NFJO", "CSA Centre", "Youth Endowment Fund", "Joseph Rowntree Foundation",
    "Centrepoint", "Children at the Table", "Skills for Care", "Community Care",
]
GOOD = {"id": "kinship-news", "publisher": "Kinship", "type": "html",
        "url": "https://kinship.org.uk/news", "item": "article.news-card",
        "title": ".news-card__title a", "link": ".news-card__title a"}
FEED = {"id": "become", "publisher": "Become", "type": "feed",
        "url": "https://becomecharity.org.uk/feed/"}


def with_source(**changes):
    source = {**GOOD, **changes}
    return {"sources": [{k: v for k, v in source.items() if v is not None}]}


INVALID = [
    pytest.param(with_source(item_selector="article"), "source kinship-news: unknown key: item_selector",
                 id="unknown-key"),
    pytest.param({"sources": [FEED, GOOD, {**FEED, "url": "https://becomecharity.org.uk/rss"}]},
                 "source become: duplicate id", id="duplicate-id"),
    pytest.param(with_source(type="rss"), "source kinship-news: type must be one of feed, govuk-search, html",
                 id="bad-type"),
    pytest.param(with_source(item=None, link=None),
                 "source kinship-news: an html source needs selectors for item, link",
                 id="html-without-selectors"),
    pytest.param(with_source(summary=".teaser > p", interval="12h"), None, id="control-valid"),
    pytest.param(with_source(date="div >"), "source kinship-news: 'date' is not a valid CSS selector",
                 id="invalid-selector"),
    pytest.param({"sources": [{**FEED, "item": "article"}]},
                 "source become: item only apply to html sources", id="selector-on-feed"),
    pytest.param(with_source(url="kinship.org.uk/news"), "source kinship-news: url must be an http(s) URL",
                 id="url-without-scheme"),
    pytest.param(with_source(url="ftp://kinship.org.uk/news"), "source kinship-news: url must be an http(s) URL",
                 id="url-ftp"),
    pytest.param(with_source(url="https://kinship.org.uk:port/news"),
                 "source kinship-news: url must be an http(s) URL", id="url-bad-port"),
    pytest.param(with_source(url="https://kinship org.uk/news"),
                 "source kinship-news: url must be an http(s) URL", id="url-with-space"),
    pytest.param(with_source(interval="often"), "source kinship-news: interval: expected a duration",
                 id="interval-words"),
    pytest.param(with_source(interval="30s"), "source kinship-news: interval: at least one minute",
                 id="interval-too-short"),
    pytest.param(with_source(interval=True), "source kinship-news: interval: expected a duration",
                 id="interval-bool"),
    pytest.param({"settings": {"interval": "-1h"}, "sources": [FEED]},
                 "settings.interval: expected a duration", id="settings-interval"),
    pytest.param({"settings": {"timeout": True}, "sources": [FEED]},
                 "settings.timeout: expected a positive number of seconds", id="settings-timeout-bool"),
    pytest.param({"settings": {"per_host": 0}, "sources": [FEED]},
                 "settings.per_host: expected a positive whole number", id="settings-per-host"),
    pytest.param({"settings": {"contact": "me@example.org"}, "sources": [FEED]},
                 "settings.contact: expected an http(s) URL", id="settings-contact-email"),
    pytest.param({"settings": {"user_agent": "x"}, "sources": [FEED]},
                 "settings: unknown key: user_agent", id="settings-unknown-key"),
    pytest.param({"settings": {"issue_day": "someday"}, "sources": [FEED]},
                 "settings.issue_day: expected a weekday", id="settings-issue-day"),
    pytest.param({"settings": ["interval"], "sources": [FEED]}, "'settings' must be a mapping",
                 id="settings-not-mapping"),
    pytest.param(["just", "a", "list"], "expected a mapping with a 'sources' list", id="not-a-mapping"),
    pytest.param({"sources": {"become": FEED}}, "expected a mapping with a 'sources' list",
                 id="sources-not-a-list"),
    pytest.param({"sources": [FEED], "source": []}, "unknown top-level key: source", id="top-level-typo"),
    pytest.param({"sources": ["https://becomecharity.org.uk/feed/"]}, "source #1: expected a mapping",
                 id="source-not-mapping"),
    pytest.param({"sources": [FEED, {**FEED, "id": "Become Feed"}]},
                 "source Become Feed: 'id' must match [a-z0-9-]+", id="bad-id"),
    pytest.param({"sources": [FEED, {**FEED, "id": False}]}, "source #2: 'id' must be text: put it in quotes",
                 id="id-read-as-boolean"),
    pytest.param({"sources": [{**FEED, "publisher": " "}]}, "source become: 'publisher' is required",
                 id="missing-publisher"),
    pytest.param({"sources": [{**FEED, "params": {"filter": {"org": "dfe"}}}]},
                 "source become: params.filter must be a value or a list of values", id="nested-params"),
    pytest.param({"sources": [{**FEED, "params": ["count=100"]}]}, "source become: 'params' must be a mapping",
                 id="params-not-mapping"),
    pytest.param({"sources": [{**FEED, "enabled": "no"}]}, "source become: 'enabled' must be true or false",
                 id="enabled-string"),
    pytest.param({"sources": [{**FEED, "confidence": "sure"}]}, "source become: confidence must be one of",
                 id="bad-confidence"),
    pytest.param({"sources": [{**FEED, "themes": "kinship"}]}, "source become: 'themes' must be a list",
                 id="themes-not-list"),
    pytest.param({"sources": [{**FEED, "date_order": "YMD"}]}, "source become: date_order must be DMY or MDY",
                 id="bad-date-order"),
    # Huge values overflowed the scheduler's arithmetic (a traceback) instead of one line.
    pytest.param({"sources": [{**FEED, "interval": "99999999999999999999d"}]},
                 "source become: interval: at most 366 days", id="huge-interval"),
    pytest.param({"settings": {"interval": "999999999999d"}, "sources": [FEED]},
                 "settings.interval: at most 366 days", id="huge-settings-interval"),
    pytest.param({"settings": {"max_interval": "400d"}, "sources": [FEED]},
                 "settings.max_interval: at most 366 days", id="huge-max-interval"),
    pytest.param({"settings": {"fetch_log_days": 10**12}, "sources": [FEED]},
                 "settings.fetch_log_days: at most 36500", id="huge-fetch-log-days"),
    pytest.param({"settings": {"timeout": 1e300}, "sources": [FEED]},
                 "settings.timeout: at most 3600", id="huge-timeout"),
    pytest.param({"settings": {"host_failures": 0}, "sources": [FEED]},
                 "settings.host_failures: expected a positive whole number", id="zero-host-failures"),
]

LAUGHS = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
# The anchors sit in a source's params, the alias in a setting that is read first.
BILLION_LAUGHS = "\n".join(
    ["sources:", "  - id: become", "    publisher: Become", "    type: feed",
     "    url: https://becomecharity.org.uk/feed/", "    params:"]
    + ["      " + line for line in LAUGHS]
    + ["settings: {contact: *i}", ""]
)


def test_billion_laughs_is_one_line_and_quick(tmp_path):
    """Nested YAML aliases load as shared lists; anything walking them (the contact check's
    str()) expanded 9**9 values. Refused before, in a fraction of a second."""
    path = tmp_path / "sources.yaml"
    path.write_text(BILLION_LAUGHS)
    result = CliRunner().invoke(cli, ["poll", "--sources", str(path), "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "YAML aliases are expanded" in result.stderr


def test_scheduling_limits_are_settings():
    config = parse_config({"settings": {"max_interval": "12h", "pass_timeout": "10m", "host_failures": 5},
                           "sources": [FEED]})
    settings = config.settings
    assert (settings.max_interval, settings.pass_timeout, settings.host_failures) == (43200, 600, 5)
    assert (Settings().max_interval, Settings().pass_timeout, Settings().host_failures) == (86400, 1800, 3)


@pytest.mark.parametrize("data,message", INVALID)
def test_invalid_sources_are_refused_by_tracker_poll(tmp_path, data, message):
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    db = tmp_path / "db" / "tracker.db"
    if message is None:  # the control: a valid file gets past validation
        assert load_config(path).sources[0].id == "kinship-news"
        return
    result = CliRunner().invoke(cli, ["poll", "--sources", str(path), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0]
    assert result.stdout == ""
    assert not db.exists(), "an invalid file must not create a database"


@pytest.mark.parametrize(
    "text,message",
    [
        pytest.param("sources:\n  - id: a\n    url: [unclosed\n", "not valid YAML at line", id="invalid-yaml"),
        pytest.param("sources:\n\t- id: a\n", "not valid YAML at line 2", id="tab-indent"),
        pytest.param("", "expected a mapping with a 'sources' list", id="empty-file"),
        pytest.param(b"sources: \xff\xfe\n", "cannot read sources file", id="not-utf8"),
    ],
)
def test_unreadable_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "sources.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


def test_missing_file_from_the_installed_command(tmp_path, run_tracker):
    """The console script itself, in a subprocess: exit 2, one line, no traceback."""
    result = run_tracker("poll", "--sources", "nowhere.yaml", "--db", "x.db", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "Error: sources file not found: nowhere.yaml\n"
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "x.db").exists()


def test_unknown_source_id_on_the_command_line(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [FEED]}))
    result = CliRunner().invoke(cli, ["poll", "--sources", str(path), "--source", "bcome",
                                      "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2
    assert result.stderr == "Error: unknown source id: bcome\n"


@pytest.mark.parametrize(
    "value,seconds",
    [(90, 5400), ("90", 5400), ("30m", 1800), ("6h", 21600), (" 1d ", 86400), ("60s", 60)],
)
def test_durations(value, seconds):
    assert parse_duration(value, "interval") == seconds


def test_valid_config_with_defaults_params_and_yaml_merge_keys():
    text = """
settings:
  contact: https://github.com/seslip/tracker
  interval: 2h
sources:
  - id: dfe-search
    publisher: DfE
    type: govuk-search
    url: https://www.gov.uk/api/search.json
    params: &govuk
      filter_organisations: department-for-education
      fields: [title, link]
  - id: ofsted-search
    publisher: Ofsted
    type: govuk-search
    url: https://www.gov.uk/api/search.json?count=100
    params: {<<: *govuk, filter_organisations: ofsted}
  - id: frg
    publisher: FRG
    type: feed
    url: https://frg.org.uk/feed/
    enabled: false
"""
    config = parse_config(yaml.safe_load(text))
    assert config.settings.interval == 7200
    assert config.settings.timeout == Settings().timeout
    assert "+https://github.com/seslip/tracker" in config.settings.user_agent
    dfe, ofsted, off = config.sources
    assert dfe.request_url == (
        "https://www.gov.uk/api/search.json?filter_organisations=department-for-education"
        "&fields=title&fields=link"
    )
    assert ofsted.request_url == (
        "https://www.gov.uk/api/search.json?count=100&filter_organisations=ofsted"
        "&fields=title&fields=link"
    )
    assert [s.id for s in config.select()] == ["dfe-search", "ofsted-search"]
    assert [s.id for s in config.select(["frg"])] == ["frg"]


@pytest.mark.parametrize("name", ["sources.yaml", "tracker/data/sources.sample.yaml"])
def test_shipped_sources_files_load(name, repo_root):
    config = load_config(repo_root / name)
    assert config.sources
    assert all(s.confidence for s in config.sources)
    assert config.settings.contact.startswith("https://")
    assert "@" not in config.settings.contact


def test_real_sources_cover_the_newsletters_publishers(repo_root):
    config = load_config(repo_root / "sources.yaml")
    publishers = {s.publisher for s in config.sources}
    assert not set(NEWSLETTER_PUBLISHERS) - publishers
    for source in config.sources:
        assert source.url.startswith("https://"), source.id
        if source.type == "govuk-search" or "gov.uk/search/" in source.url:
            query = source.request_url
            # announcements of future releases are not publications
            assert ("reject_content_store_document_type=statistics_announcement" in query
                    or "content_store_document_type=statistics_published" in query
                    or "content_store_document_type=research" in query), source.id
        if "ons.gov.uk/releasecalendar" in source.url:
            assert "release-type=type-published" in source.url


def test_every_real_source_has_a_comment_saying_how_sure_we_are(repo_root):
    """The comment above each entry and its `confidence:` key must agree."""
    text = (repo_root / "sources.yaml").read_text()
    config = load_config(repo_root / "sources.yaml")
    blocks = re.split(r"\n(?=  - id: )", text)[1:]
    assert len(blocks) == len(config.sources)
    for source, block in zip(config.sources, blocks, strict=True):
        preceding = text[: text.index(block)].rsplit("\n\n", 1)[-1]
        comment = " ".join(line for line in preceding.splitlines() if line.strip().startswith("#"))
        assert source.confidence in comment, source.id
        if source.type == "html":
            assert "guessed" in block, source.id  # selectors are guesses until someone checks


def test_tracker_home_is_not_needed_to_validate(tmp_path, run_tracker):
    """Validation reads only the given file: it works from any directory."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(with_source(type="atom")))
    result = run_tracker("poll", "--sources", bad, cwd="/", env={"TRACKER_HOME": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.startswith("Error: source kinship-news: type must be one of")
