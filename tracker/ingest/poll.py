"""One polling pass: fetch every source concurrently, parse off the event loop, store, schedule.

Like Miniflux's RefreshFeed, each source runs the whole pipeline on its own and its outcome is
written in one transaction, so a failing or killed source never touches another.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlite_utils import Database

from .config import Config, Settings, Source
from .fetch import FetchResult, HostLimiter, fetch, is_private_host, make_client
from tracker.entries import Entry
from .normalise import normalise_entry
from .parse import ParseError, parse_body
from tracker.store import FetchRecord, poll_lock, prune_fetch_log, save_fetch, source_states, sync_sources

MAX_BACKOFF = timedelta(hours=24)
MAX_DOUBLINGS = 16
JITTER = 0.1


@dataclass
class SourceOutcome:
    source_id: str
    publisher: str
    outcome: str  # "fetched", "not modified", "error", "deferred"
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    status: int | None = None
    error: str | None = None
    duration_ms: int = 0


@dataclass
class PollSummary:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0
    classify_error: str | None = None

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.outcome == "error"]


def poll_sources(
    db: Database,
    config: Config,
    sources: list[Source],
    *,
    db_path,
    due_only: bool = False,
    progress: bool = False,
    client=None,
    now: datetime | None = None,
) -> PollSummary:
    """Poll ``sources`` once and store what they publish. Raises PollRunning if a poll is on."""
    started = time.perf_counter()
    with poll_lock(db_path):
        sync_sources(db, config.sources)
        states = source_states(db)
        clock = now  # injected by the soak test to run a month in seconds; else the real time
        now = now or datetime.now(timezone.utc)
        if due_only:
            sources = [s for s in sources if _is_due(states[s.id], now)]
        summary = asyncio.run(_poll(db, config.settings, sources, states, client, progress, clock))
        prune_fetch_log(db, config.settings.fetch_log_days, now=now)
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass
class _Classifying:
    """Themes and candidate scores for the new publications, given on the writer thread as
    sources are stored, so that classifying overlaps fetching; batches of BATCH keep the
    classifier's array products efficient. Imported only when something is new, so an idle poll
    never loads numpy. Publications are stored whatever happens here; a failure is reported,
    and `tracker train` scores every unreviewed publication again."""

    BATCH = 200
    waiting: list[int] = field(default_factory=list)
    error: str | None = None
    classifier: object = None

    def add(self, db: Database, ids: list[int], *, finish: bool = False) -> None:
        self.waiting += ids
        if self.error or not self.waiting or (len(self.waiting) < self.BATCH and not finish):
            return
        try:
            from tracker.judgement.classify import classifier_for, classify_publications

            self.classifier = self.classifier or classifier_for(db)
            classify_publications(db, self.waiting, classifier=self.classifier)
        except Exception as ex:
            self.error = f"classification failed ({type(ex).__name__}: {ex})"[:300]
        self.waiting = []


def _is_due(state: dict, now: datetime) -> bool:
    return not state.get("next_poll") or _parse_utc(state["next_poll"]) <= now


async def _poll(db, settings: Settings, sources, states, client, progress, clock) -> PollSummary:
    summary = PollSummary()
    own_client = client is None
    client = client or make_client(settings)
    limiter = HostLimiter(settings.per_host, settings.concurrency)
    # Parsing is CPU work: a small pool keeps it off the event loop while fetches wait on I/O.
    parser_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parse")
    # One writer thread owns `db` for the pass: sources' transactions are written one after
    # another, never concurrently, while the loop goes on fetching (sqlite3 releases the GIL).
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
    classifying = _Classifying()
    tasks = [
        _poll_one_safely(db, settings, source, states[source.id], client, limiter, parser_pool,
                         writer, classifying, clock)
        for source in sources
    ]
    try:
        with _progress(progress, len(tasks)) as advance:
            for finished in asyncio.as_completed(tasks):
                outcome, new_ids = await finished
                summary.outcomes.append(outcome)
                summary.new_ids.extend(new_ids)
                advance(outcome)
        await _in_thread(writer, functools.partial(classifying.add, db, [], finish=True))
        summary.classify_error = classifying.error
    finally:
        if own_client:
            await client.aclose()
        # Interrupted: a source being written finishes its transaction, queued ones never start.
        for pool in (parser_pool, writer):
            pool.shutdown(wait=True, cancel_futures=True)
    order = {source.id: index for index, source in enumerate(sources)}
    summary.outcomes.sort(key=lambda o: order[o.source_id])
    return summary


async def _in_thread(pool: ThreadPoolExecutor, fn, *args):
    return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)


async def _poll_one_safely(db, settings, source: Source, state: dict, client, limiter,
                           parser_pool, writer, classifying, clock):
    """A bug or a database failure while handling one source costs that source only."""
    try:
        return await _poll_one(db, settings, source, state, client, limiter, parser_pool, writer,
                               classifying, clock)
    except Exception as ex:
        error = f"internal error ({type(ex).__name__}: {ex})"[:300]
        await _in_thread(writer, _record_failure, db, settings, source, state, error)
        return SourceOutcome(source.id, source.publisher, "error", error=error), []


def _record_failure(db, settings, source: Source, state: dict, error: str) -> None:
    """Put the failure on the source like any other, so that it shows in the sources table and
    backs off. Its entries were rolled back with their transaction."""
    now = datetime.now(timezone.utc)
    next_poll = _next_poll(settings, source, state, FetchResult(url=source.url), error, now)
    try:
        save_fetch(db, source, FetchRecord(started=now, duration_ms=0, error=error, next_poll=next_poll))
    except Exception:  # the database itself is failing: the summary is the only report left
        pass


async def _poll_one(db, settings, source: Source, state: dict, client, limiter, parser_pool,
                    writer, classifying, clock=None):
    now = clock or datetime.now(timezone.utc)
    if state.get("retry_after") and _parse_utc(state["retry_after"]) > now:
        until = _parse_utc(state["retry_after"]).strftime("%H:%M UTC on %d %b")
        return SourceOutcome(source.id, source.publisher, "deferred",
                             error=f"the server asked us to wait until {until}"), []
    url = state.get("fetch_url") or source.request_url
    async with limiter.slot(url):
        result = await fetch(
            client, url, etag=state.get("etag"), last_modified=state.get("last_modified"),
            max_bytes=settings.max_bytes,
            allow_private_redirects=is_private_host(source.url),
        )
    entries: list[Entry] = []
    error = result.error
    if error is None and not result.not_modified:
        try:
            entries = await _in_thread(parser_pool, _parse_and_normalise, source, result)
        except ParseError as ex:
            error = str(ex)
        except Exception as ex:  # a parser bug must cost one source, not the whole pass
            error = f"could not read the response ({type(ex).__name__}: {ex})"[:300]
    record = FetchRecord(
        started=now, duration_ms=result.duration_ms, status=result.status, nbytes=result.nbytes,
        error=error, etag=result.etag, last_modified=result.last_modified,
        fetch_url=result.permanent_url, not_modified=result.not_modified,
        retry_after=result.retry_after,
        next_poll=_next_poll(settings, source, state, result, error, now),
    )
    stored = await _in_thread(writer, _store, db, source, record, entries, classifying)
    outcome = SourceOutcome(
        source.id, source.publisher,
        "error" if error else ("not modified" if result.not_modified else "fetched"),
        new=len(stored.new_ids), updated=stored.updated, unchanged=stored.unchanged,
        status=result.status, error=error, duration_ms=result.duration_ms,
    )
    return outcome, stored.new_ids


def _store(db, source: Source, record: FetchRecord, entries, classifying: _Classifying):
    stored = save_fetch(db, source, record, entries)
    classifying.add(db, stored.new_ids)
    return stored


def _parse_and_normalise(source: Source, result: FetchResult) -> list[Entry]:
    raws = parse_body(source, result.body or b"", result.content_type, result.url)
    entries, seen = [], set()
    for raw in raws:
        entry = normalise_entry(raw, base_url=result.url, date_order=source.date_order)
        if entry is not None and entry.url_key not in seen:
            seen.add(entry.url_key)
            entries.append(entry)
    return entries


def _next_poll(settings, source, state, result: FetchResult, error, now) -> datetime:
    """When the scheduler should come back: the interval, stretched by what the server asked
    for (Cache-Control, Retry-After) and doubled per consecutive error up to a day; never
    "give up", so a source that recovers is picked up again."""
    interval = timedelta(seconds=source.interval or settings.interval)
    if error:
        failures = (state.get("consecutive_errors") or 0) + 1
        # The exponent is capped: 2**40 intervals overflow timedelta after a long outage.
        doublings = min(failures - 1, MAX_DOUBLINGS)
        interval = min(interval * 2**doublings, max(MAX_BACKOFF, interval))
    elif result.max_age:
        interval = max(interval, timedelta(seconds=result.max_age))
    interval *= 1 + random.uniform(-JITTER, JITTER)
    next_poll = now + interval
    if result.retry_after and result.retry_after > next_poll:
        next_poll = result.retry_after
    return next_poll


def _parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class _progress:
    """A progress bar on a terminal; nothing when output is piped (cron, tests)."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total = enabled, total

    def __enter__(self):
        if not self.enabled:
            return lambda outcome: None
        from rich.progress import Progress

        self._bar = Progress(transient=True, console=_console(stderr=True))
        self._bar.start()
        task = self._bar.add_task("Polling", total=self.total)
        return lambda outcome: self._bar.update(task, advance=1, description=outcome.source_id)

    def __exit__(self, *exc):
        if self.enabled:
            self._bar.stop()


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, width=None if sys.stdout.isatty() else 120)


def render_summary(summary: PollSummary) -> None:
    """Print one row per source (new, updated, unchanged, error) and a closing total."""
    from rich.table import Table

    table = Table(title=None, show_lines=False)
    for column, justify in (("source", "left"), ("new", "right"), ("updated", "right"),
                            ("unchanged", "right"), ("result", "left")):
        table.add_column(column, justify=justify)
    for o in summary.outcomes:
        result = o.error if o.error else o.outcome
        table.add_row(o.source_id, str(o.new), str(o.updated), str(o.unchanged), result)
    console = _console()
    console.print(table)
    console.print(
        f"{_count(len(summary.outcomes), 'source')} polled in {summary.seconds:.1f}s: "
        f"{_count(len(summary.new_ids), 'new publication')}, "
        f"{_count(len(summary.failed), 'source')} failed"
    )
    if summary.classify_error:
        console.print(f"New publications stored but not classified: {summary.classify_error}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
