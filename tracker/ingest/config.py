"""Read and validate sources.yaml into plain dataclasses.

Validation is strict on purpose: a typo in a key would otherwise silently disable a selector or
a filter, and the editors would only notice weeks later that a publisher had gone quiet.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from tracker import TrackerError, __version__
from tracker.text import is_http_url
from tracker.yamlfile import load_yaml

# caselaw: Find Case Law's Atom feed, title and link only; parliament-committees, wordpress
# (REST API) and sitemap: structured sources that no redesign of a page breaks (ingest/apis.py)
SOURCE_TYPES = ("feed", "govuk-search", "html", "caselaw", "parliament-committees", "wordpress", "sitemap")
# The Open Justice Licence leaves out "automated identification or classification of judgments"
# (that needs The National Archives' own licence): judgments are stored, never scored.
UNCLASSIFIED_TYPES = ("caselaw",)
HTML_SELECTORS = ("item", "title", "link", "date", "summary")
SOURCE_KEYS = {
    "id", "publisher", "type", "url", "params", "interval", "enabled", "themes",
    "confidence", "date_order", "paths", *HTML_SELECTORS,
}
SETTINGS_KEYS = {
    "contact", "interval", "timeout", "connect_timeout", "max_bytes", "per_host",
    "concurrency", "issue_day", "fetch_log_days", "max_interval", "pass_timeout", "host_failures",
    "notify", "alert_after", "silent_after", "draft_day", "draft_time", "workspace_url",
    "retrain_after",
}
CONFIDENCE = ("verified", "probable", "guessed", "local")
ID_PATTERN = re.compile(r"^[a-z0-9-]+$")
DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
# Longer than this is a typo, and would overflow the scheduler's date arithmetic.
MAX_DURATION = 366 * 86400
# Values in a sources file, aliases expanded: a thousand sources use a tenth of it.
MAX_VALUES = 200_000
CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# $NAME or ${NAME} in an Apprise URL: a secret read from the environment when sending.
ENV_NAME = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

DEFAULT_CONTACT = "https://github.com/seslip/tracker"


class ConfigError(TrackerError):
    pass


@dataclass(frozen=True)
class Settings:
    contact: str = DEFAULT_CONTACT
    interval: int = 3600  # seconds between scheduled polls of one source
    timeout: float = 30.0  # whole request, headers and body
    connect_timeout: float = 10.0
    max_bytes: int = 5 * 1024 * 1024  # decompressed body cap
    per_host: int = 2  # simultaneous requests to one host
    concurrency: int = 32  # simultaneous requests in all
    issue_day: str = "friday"
    fetch_log_days: int = 30
    # How far a server's cache hints (Cache-Control, Expires) may push a source's next poll:
    # a CDN's max-age of a year must not silence a publisher.
    max_interval: int = 86400
    pass_timeout: int = 1800  # a polling pass stops waiting for sources after this many seconds
    host_failures: int = 3  # a host failing this often in one pass is skipped for the rest of it
    # Notifications (tracker.publish.notify): Apprise URLs as written, $NAME unexpanded, so
    # that no secret is held, shown or logged with the settings.
    notify: tuple[str, ...] = ()
    alert_after: int = 3  # failed polls in a row before a source's alert
    retrain_after: int = 20  # editors' decisions after which `tracker serve` retrains the model
    silent_after: int | None = None  # seconds without anything new before a "silent" alert
    draft_day: str | None = None  # the weekly draft's day; None: the day before issue_day
    draft_time: str = "16:00"  # London time, for the draft and the day's saved-search message
    workspace_url: str | None = None  # where editors open the workspace, for links in messages

    @property
    def user_agent(self) -> str:
        return f"tracker/{__version__} (children's services publication tracker; +{self.contact})"


@dataclass(frozen=True)
class Selectors:
    """Where an html source's listing page keeps its publications: CSS selectors, from the
    source's ``item``, ``title``, ``link``, ``date`` and ``summary`` keys."""

    item: str  # one element per publication
    title: str  # inside the item: its text is the title
    link: str  # inside the item: its href is the link
    date: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class Source:
    id: str
    publisher: str
    type: str
    url: str
    params: dict = field(default_factory=dict)
    interval: int | None = None
    enabled: bool = True
    themes: tuple[str, ...] = ()
    confidence: str | None = None
    date_order: str = "DMY"
    selectors: Selectors | None = None  # html sources only
    paths: tuple[str, ...] = ()  # sitemap sources: only pages under these path prefixes count

    @property
    def classified(self) -> bool:
        return self.type not in UNCLASSIFIED_TYPES

    @property
    def request_url(self) -> str:
        """The configured URL with ``params`` added to its query string."""
        if not self.params:
            return self.url
        pairs = []
        for key, value in self.params.items():
            for item in value if isinstance(value, list) else [value]:
                pairs.append((key, item))
        joiner = "&" if urlsplit(self.url).query else "?"
        return self.url + joiner + urlencode(pairs)


@dataclass(frozen=True)
class Config:
    settings: Settings
    sources: tuple[Source, ...]
    path: Path | None = None

    def select(self, ids: list[str] | tuple[str, ...] = ()) -> list[Source]:
        """The enabled sources, or exactly the named ones (enabled or not)."""
        if not ids:
            return [s for s in self.sources if s.enabled]
        known = {s.id: s for s in self.sources}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ConfigError(f"unknown source id: {', '.join(unknown)}")
        return [known[i] for i in ids]


def parse_duration(value: object, what: str) -> int:
    """Seconds from ``90`` (minutes), ``"30m"``, ``"6h"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected a duration such as 30m, 6h or 1d, got {value!r}")
    match = DURATION.match(str(value))
    if not match:
        raise ConfigError(f"{what}: expected a duration such as 30m, 6h or 1d, got {value!r}")
    number, unit = int(match.group(1)), match.group(2) or "m"
    seconds = number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds < 60:
        raise ConfigError(f"{what}: at least one minute, got {value!r}")
    if seconds > MAX_DURATION:
        raise ConfigError(f"{what}: at most 366 days, got {str(value)[:40]!r}")
    return seconds


def load_config(path: str | Path) -> Config:
    path = Path(path)
    return parse_config(load_yaml(path, what="sources file", error=ConfigError), path)


def parse_config(data: object, path: Path | None = None) -> Config:
    name = path or "sources"
    _refuse_expansion(data, name)
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise ConfigError(f"{name}: expected a mapping with a 'sources' list")
    unknown = set(data) - {"sources", "settings"}
    if unknown:
        raise ConfigError(f"{name}: unknown top-level key: {', '.join(sorted(unknown))}")
    settings = _parse_settings(data.get("settings") or {}, name)
    sources, seen = [], set()
    for index, raw in enumerate(data["sources"], start=1):
        source = _parse_source(raw, index)
        if source.id in seen:
            raise ConfigError(f"source {source.id}: duplicate id")
        seen.add(source.id)
        sources.append(source)
    return Config(settings=settings, sources=tuple(sources), path=path)


def _parse_settings(raw: object, name: str | Path) -> Settings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: 'settings' must be a mapping")
    unknown = set(raw) - SETTINGS_KEYS
    if unknown:
        raise ConfigError(f"settings: unknown key: {', '.join(sorted(unknown))}")
    values = dict(raw)
    for key in ("interval", "max_interval", "pass_timeout"):
        if key in values:
            values[key] = parse_duration(values[key], f"settings.{key}")
    # bool is an int to Python, but `timeout: yes` is a mistake, not one second
    for key in ("timeout", "connect_timeout"):
        if key in values and not (_is_number(values[key], (int, float)) and values[key] > 0):
            raise ConfigError(f"settings.{key}: expected a positive number of seconds")
    for key in ("max_bytes", "per_host", "concurrency", "fetch_log_days", "alert_after", "host_failures",
                "retrain_after"):
        if key in values and not (_is_number(values[key], int) and values[key] > 0):
            raise ConfigError(f"settings.{key}: expected a positive whole number")
    for key, most in (("timeout", 3600), ("connect_timeout", 3600), ("fetch_log_days", 36500)):
        if values.get(key, 0) > most:  # beyond these the time arithmetic overflows
            raise ConfigError(f"settings.{key}: at most {most}")
    if "issue_day" in values:
        day = str(values["issue_day"]).lower()
        if day not in WEEKDAYS:
            raise ConfigError(f"settings.issue_day: expected a weekday, got {values['issue_day']!r}")
        values["issue_day"] = day
    if "contact" in values and not is_http_url(str(values["contact"]).strip()):
        raise ConfigError("settings.contact: expected an http(s) URL people can reach you at")
    _parse_notify_settings(values)
    return Settings(**values)


def _parse_notify_settings(values: dict) -> None:
    """The notification keys, in place: the Apprise URLs checked now, so a malformed one is an
    error when the settings are read rather than a message that never arrives."""
    if "notify" in values:
        urls = values["notify"]
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(url, str) and url.strip() for url in urls):
            raise ConfigError("settings.notify: expected a list of Apprise URLs")
        for index, url in enumerate(urls, start=1):
            check_apprise_url(url, f"settings.notify #{index}")
        values["notify"] = tuple(url.strip() for url in urls)
    if "silent_after" in values:
        values["silent_after"] = parse_duration(values["silent_after"], "settings.silent_after")
    if "draft_day" in values:
        day = str(values["draft_day"]).lower()
        if day not in WEEKDAYS:
            raise ConfigError(f"settings.draft_day: expected a weekday, got {values['draft_day']!r}")
        values["draft_day"] = day
    if "draft_time" in values and not CLOCK_TIME.match(str(values["draft_time"])):
        raise ConfigError(f"settings.draft_time: expected a time such as 16:00, got {values['draft_time']!r}")
    if "workspace_url" in values:
        if not is_http_url(str(values["workspace_url"]).strip()):
            raise ConfigError("settings.workspace_url: expected the http(s) URL editors open the workspace at")
        values["workspace_url"] = str(values["workspace_url"]).strip().rstrip("/")


def _apprise_schemes() -> set[str]:
    """Every scheme Apprise knows (mailto, json, slack, workflows, ...), and https, which it reads
    for the services whose webhook addresses it recognises."""
    import apprise

    schemes = {"http", "https"}
    for service in apprise.Apprise().details()["schemas"]:
        for key in ("protocols", "secure_protocols"):
            value = service.get(key) or ()
            schemes.update([value] if isinstance(value, str) else value)
    return schemes


def expand_env(url: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """The URL with each $NAME replaced from ``environ``, and the names that were not set."""
    missing: list[str] = []

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name not in environ:
            missing.append(name)
            return "unset"
        return environ[name]

    return ENV_NAME.sub(value, url.strip()), missing


def check_apprise_url(url: str, what: str, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse a URL Apprise cannot use. The message names its scheme only: the rest may hold a
    secret written in the file. Where a $NAME is not set now (tracker poll reads the same file
    without it, and a Teams or Slack URL may be all secret), only the scheme is checked; the
    delivery then fails in words until it is set."""
    import apprise

    expanded, missing = expand_env(url, environ)
    scheme = expanded.split("://", 1)[0].lower() if "://" in expanded else ""
    if missing:
        service: object = scheme if scheme in _apprise_schemes() else None
    else:
        # Apprise logs why it refused a URL, with the URL: kept out of the log.
        logger = logging.getLogger("apprise")
        level = logger.level
        logger.setLevel(logging.CRITICAL + 1)
        try:
            service = apprise.Apprise.instantiate(expanded)
        finally:
            logger.setLevel(level)
    if service is None:
        shown = f"{scheme}://..." if scheme else "a value without a scheme://"
        raise ConfigError(f"{what}: not an Apprise URL Apprise can use ({shown}); "
                          "see https://github.com/caronc/apprise/wiki")


def _parse_source(raw: object, index: int) -> Source:
    if not isinstance(raw, dict):
        raise ConfigError(f"source #{index}: expected a mapping")
    ident = raw.get("id")
    label = f"source {ident}" if isinstance(ident, str) and ident else f"source #{index}"
    if isinstance(ident, bool):
        # YAML 1.1 reads a bare yes/no/on/off as a boolean
        raise ConfigError(f"{label}: 'id' must be text: put it in quotes")
    if not isinstance(ident, str) or not ID_PATTERN.match(ident):
        raise ConfigError(f"{label}: 'id' must match [a-z0-9-]+")
    unknown = set(raw) - SOURCE_KEYS
    if unknown:
        raise ConfigError(f"{label}: unknown key: {', '.join(sorted(unknown))}")
    for key in ("publisher", "type", "url"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ConfigError(f"{label}: '{key}' is required")
    if raw["type"] not in SOURCE_TYPES:
        raise ConfigError(
            f"{label}: type must be one of {', '.join(SOURCE_TYPES)}, got {raw['type']!r}"
        )
    if not is_http_url(str(raw["url"]).strip()):
        raise ConfigError(f"{label}: url must be an http(s) URL, got {raw['url']!r}")
    params = _parse_params(raw.get("params") or {}, label)
    selectors = _parse_selectors(raw, label)
    themes = raw.get("themes") or []
    if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
        raise ConfigError(f"{label}: 'themes' must be a list of theme slugs")
    if raw.get("confidence") is not None and raw["confidence"] not in CONFIDENCE:
        raise ConfigError(f"{label}: confidence must be one of {', '.join(CONFIDENCE)}")
    if raw.get("date_order", "DMY") not in ("DMY", "MDY"):
        raise ConfigError(f"{label}: date_order must be DMY or MDY")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{label}: 'enabled' must be true or false")
    interval = raw.get("interval")
    return Source(
        id=ident,
        publisher=raw["publisher"].strip(),
        type=raw["type"],
        url=raw["url"].strip(),
        params=params,
        interval=parse_duration(interval, f"{label}: interval") if interval is not None else None,
        enabled=enabled,
        themes=tuple(themes),
        confidence=raw.get("confidence"),
        date_order=raw.get("date_order", "DMY"),
        selectors=selectors,
        paths=_parse_paths(raw, label),
    )


def _parse_params(params: object, label: str) -> dict:
    if not isinstance(params, dict):
        raise ConfigError(f"{label}: 'params' must be a mapping")
    for key, value in params.items():
        # A nested mapping would reach the query string as its Python repr.
        if not all(_is_scalar(v) for v in (value if isinstance(value, list) else [value])):
            raise ConfigError(f"{label}: params.{key} must be a value or a list of values")
    return params


def _parse_paths(raw: dict, label: str) -> tuple[str, ...]:
    paths = raw.get("paths")
    if paths is None:
        return ()
    if raw["type"] != "sitemap":
        raise ConfigError(f"{label}: 'paths' only applies to sitemap sources")
    paths = [paths] if isinstance(paths, str) else paths
    if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
        raise ConfigError(f"{label}: 'paths' must be a path prefix such as /publications/, or a list of them")
    return tuple(paths)


def _parse_selectors(raw: dict, label: str) -> Selectors | None:
    """An html source's selectors, each checked to compile; other types of source have none."""
    if raw["type"] == "html":
        missing = [key for key in ("item", "title", "link") if not raw.get(key)]
        if missing:
            raise ConfigError(f"{label}: an html source needs selectors for {', '.join(missing)}")
    else:
        stray = [key for key in HTML_SELECTORS if key in raw]
        if stray:
            raise ConfigError(f"{label}: {', '.join(stray)} only apply to html sources")
        return None
    for key in HTML_SELECTORS:
        if key in raw and not _is_selector(raw[key]):
            raise ConfigError(f"{label}: '{key}' is not a valid CSS selector: {raw[key]!r}")
    return Selectors(raw["item"], raw["title"], raw["link"], raw.get("date"), raw.get("summary"))


def _refuse_expansion(data: object, name: str | Path) -> None:
    """Refuse a file whose YAML aliases (``*name``) expand to more than MAX_VALUES values:
    nested ones ("billion laughs") load as a few shared lists that every later walk over them
    (validation, error messages) would expand to billions. Merge keys and the odd shared
    mapping, as sources.yaml uses them, stay far below."""
    count, stack = 0, [data]
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ConfigError(f"{name}: more than {MAX_VALUES:,} values once its YAML aliases are "
                              "expanded: refused (a 'billion laughs' file?)")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _is_number(value: object, kinds: type | tuple[type, ...]) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool))


def _is_selector(value: object) -> bool:
    """Compile the selector once now: a typo would otherwise fail every poll of the source."""
    if not isinstance(value, str) or not value.strip():
        return False
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    try:
        LexborHTMLParser("<p></p>").css_first(value)
    except SelectolaxError:
        return False
    return True
