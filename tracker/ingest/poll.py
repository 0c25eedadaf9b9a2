"""One polling pass: fetch every source concurrently, parse off the event loop, store, schedule.

Like Miniflux's RefreshFeed, each source runs the whole pipeline on its own and its outcome is
written all or nothing (a savepoint of its own), so a failing or killed source never touches another.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from sqlite_utils import Database

from tracker.dates import utc_now, utc_time_words
from tracker.entries import Entry
from tracker.store import (
    FetchRecord,
    StoreResult,
    open_database,
    poll_lock,
    postpone,
    prune_fetch_log,
    save_fetch,
    save_fetches,
    source_states,
    sync_sources,
)
from tracker.store.judgements import unscored_since

from .config import Config, Settings, Source
from .fetch import FetchResult, HostLimiter, fetch, host_of, is_private_host, make_client

if TYPE_CHECKING:
    from tracker.judgement.model import Classifier

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BACKOFF = timedelta(hours=24)
MAX_DOUBLINGS = 16
JITTER = 0.1
# How far back a pass looks for publications that a stopped pass stored but never classified.
UNSCORED_CATCH_UP = timedelta(days=30)


@dataclass
class SourceOutcome:
    source_id: str
    publisher: str
    outcome: str  # "fetched", "not modified", "error", "deferred"
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # entries that could not be read, each said why in the fetch log
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


# Told after each source: (sources done, sources in the pass, the outcome of the one just done);
# once before the first with (0, total, None).
ProgressCallback = Callable[[int, int, SourceOutcome | None], None]


def poll_sources(
    db: Database,
    config: Config,
    sources: list[Source],
    *,
    db_path: str | Path,
    due_only: bool = False,
    on_progress: ProgressCallback | None = None,
    client: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> PollSummary:
    """Poll ``sources`` once and store what they publish. Raises PollRunning if a poll is on.

    ``clock`` tells the time of every decision (due, deferred, next poll, pruning): the soak test
    runs a month in seconds with its own.
    """
    started = time.perf_counter()
    with poll_lock(db_path):
        sync_sources(db, config.sources)
        states = source_states(db)
        now = clock()
        if due_only:
            sources = [s for s in sources if _is_due(states[s.id], now)]
        # They are not new to this pass, which would otherwise never classify them.
        unscored = unscored_since(db, now - UNSCORED_CATCH_UP)
        summary = asyncio.run(_run_pass(db, db_path, config.settings, sources, states, client, clock,
                                        on_progress or _no_progress, unscored))
        prune_fetch_log(db, config.settings.fetch_log_days, now=now)
    summary.seconds = time.perf_counter() - started
    log.info("%d sources polled in %.1fs: %d new publications, %d failed", len(summary.outcomes),
             summary.seconds, len(summary.new_ids), len(summary.failed))
    return summary


def _no_progress(done: int, total: int, outcome: SourceOutcome | None) -> None:
    pass


class ClassifyQueue:
    """New publications waiting for themes and candidate scores, handed over by the writer as
    sources are stored and classified on a thread of their own, with a connection of their own
    (SQLite lets it read what the writer committed; its short writes wait for the writer's), so
    that classifying overlaps storing and fetching; batches of BATCH keep the classifier's array
    products efficient. The classifier is imported only when something is new, so an idle poll
    never loads it. Publications are stored whatever happens here; a failure is reported, and
    the next pass (or `tracker train`) scores what was left unscored."""

    BATCH = 200

    def __init__(self, db_path: str | Path):
        self.db_path = db_path
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classify")
        self.waiting: list[int] = []
        self.error: str | None = None
        self._db: Database | None = None
        self._classifier: Classifier | None = None

    def add(self, ids: list[int], *, finish: bool = False) -> Future[None]:
        """Queue ``ids`` (committed) for the classifier's thread; ``finish``: classify every one
        waiting, then close the connection."""
        return self.thread.submit(self._add, ids, finish)

    def _add(self, ids: list[int], finish: bool) -> None:
        self.waiting += ids
        if not self.error and self.waiting and (len(self.waiting) >= self.BATCH or finish):
            try:
                from tracker.judgement.classify import classify_publications
                from tracker.judgement.provenance import classifier_for

                self._db = self._db or open_database(self.db_path)
                self._classifier = self._classifier or classifier_for(self._db)
                classify_publications(self._db, self.waiting, classifier=self._classifier)
            except Exception as ex:
                self.error = f"classification failed ({type(ex).__name__}: {ex})"[:300]
                log.error("new publications stored but not classified", exc_info=True)
            self.waiting = []
        if finish and self._db is not None:
            self._db.close()
            self._db = None


class Writer:
    """The pass's one thread that owns ``db``: transactions are written one after another, never
    concurrently, while the loop goes on fetching (sqlite3 releases the GIL). The sources whose
    results wait when it comes free are written together, in one transaction with a savepoint
    each (store.save_fetches): a pass commits a few dozen times rather than once a source."""

    def __init__(self, db: Database, classifying: ClassifyQueue):
        self.db = db
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self.classifying = classifying
        self._waiting: list[tuple[Source, FetchRecord, list[Entry], asyncio.Future[StoreResult]]] = []
        self._lock = threading.Lock()
        self._writing = False

    async def store(self, source: Source, record: FetchRecord, entries: list[Entry]) -> StoreResult:
        """Store one source's fetch with whatever else is waiting; raises what storing it raised."""
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[StoreResult] = loop.create_future()
        with self._lock:
            self._waiting.append((source, record, entries, stored))
            start, self._writing = not self._writing, True
        if start:
            self.thread.submit(self._write_waiting, loop)
        return await stored

    def _write_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._write_batches(loop)
        except Exception as ex:
            # Unforeseen (the classifier's queue shut down, say): the sources still waiting are
            # told, and the next one to arrive starts a writer again, instead of every one of
            # them waiting for the pass's time limit.
            with self._lock:
                stranded, self._waiting, self._writing = self._waiting, [], False
            log.error("the writer stopped", exc_info=True)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                for *_, stored in stranded:
                    loop.call_soon_threadsafe(_settle, stored, ex)

    def _write_batches(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            with self._lock:
                # A source cancelled while it waited (the pass's time limit, Ctrl-C) is not written.
                batch = [waiting for waiting in self._waiting if not waiting[3].cancelled()]
                self._waiting = []
                if not batch:
                    self._writing = False
                    return
            outcomes: list[StoreResult | Exception]
            try:
                outcomes = save_fetches(self.db, [(source, record, entries) for source, record, entries, _ in batch])
            except Exception as ex:  # the transaction itself failed: so did every source in it
                outcomes = [ex] * len(batch)
            for (_, _, _, stored), outcome in zip(batch, outcomes, strict=True):
                loop.call_soon_threadsafe(_settle, stored, outcome)
            self.classifying.add([
                new_id for (source, *_), outcome in zip(batch, outcomes, strict=True)
                if source.classified and isinstance(outcome, StoreResult) for new_id in outcome.new_ids])


def _settle(stored: asyncio.Future[StoreResult], outcome: StoreResult | Exception) -> None:
    if stored.done():  # cancelled meanwhile
        return
    if isinstance(outcome, Exception):
        stored.set_exception(outcome)
    else:
        stored.set_result(outcome)


def _is_due(state: dict, now: datetime) -> bool:
    return not state.get("next_poll") or datetime.fromisoformat(state["next_poll"]) <= now


async def _run_pass(db: Database, db_path: str | Path, settings: Settings, sources: list[Source],
                    states: dict, client: httpx.AsyncClient | None, clock: Callable[[], datetime],
                    on_progress: ProgressCallback, unscored: list[int]) -> PollSummary:
    summary = PollSummary()
    own_client = client is None
    classifying = ClassifyQueue(db_path)
    classifying.add(unscored)
    this_pass = _Pass(
        db, settings, client or make_client(settings), clock,
        limiter=HostLimiter(settings.per_host, settings.concurrency),
        # Parsing is CPU work: a small pool keeps it off the event loop while fetches wait on I/O.
        parser_pool=ThreadPoolExecutor(max_workers=2, thread_name_prefix="parse"),
        writer=Writer(db, classifying),
    )
    tasks = [asyncio.ensure_future(this_pass.poll_safely(source, states[source.id])) for source in sources]
    on_progress(0, len(tasks), None)
    try:
        try:
            # A pass ends: sources still waiting (a slow host, a long queue) are tried next time.
            async with asyncio.timeout(settings.pass_timeout):
                for finished in asyncio.as_completed(tasks):
                    outcome, new_ids = await finished
                    summary.outcomes.append(outcome)
                    summary.new_ids.extend(new_ids)
                    on_progress(len(summary.outcomes), len(tasks), outcome)
        except TimeoutError:
            late = [source for source, task in zip(sources, tasks, strict=True) if not task.done()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            done = {o.source_id for o in summary.outcomes}
            for source in sources:
                if source.id not in done:
                    summary.outcomes.append(SourceOutcome(
                        source.id, source.publisher, "deferred",
                        error=f"not polled: the pass reached its time limit ({settings.pass_timeout} s)"))
            log.warning("the pass reached its time limit: %d sources left for the next one", len(late))
        # Through the writer's thread: behind whatever it is still writing, which it hands over first.
        classified: Future[None] = await _in_thread(
            this_pass.writer.thread, functools.partial(classifying.add, [], finish=True))
        await asyncio.wrap_future(classified)
        summary.classify_error = classifying.error
    finally:
        if own_client:
            await this_pass.client.aclose()
        # Interrupted: a source being written finishes its transaction, queued ones never start.
        for pool in (this_pass.parser_pool, this_pass.writer.thread, classifying.thread):
            pool.shutdown(wait=True, cancel_futures=True)
    order = {source.id: index for index, source in enumerate(sources)}
    summary.outcomes.sort(key=lambda o: order[o.source_id])
    return summary


async def _in_thread(pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)


@dataclass
class _Pass:
    """What every source of one pass shares, and the steps each source goes through."""

    db: Database  # used on the writer's thread only
    settings: Settings
    client: httpx.AsyncClient
    clock: Callable[[], datetime]
    limiter: HostLimiter
    parser_pool: ThreadPoolExecutor
    writer: Writer
    # Failed fetches per host in this pass: a host failing settings.host_failures times is
    # skipped for the rest of it, so a pass over many dead sources on one host ends quickly.
    host_failures: Counter[str] = field(default_factory=Counter)

    def host_is_failing(self, url: str) -> bool:
        return self.host_failures[host_of(url)] >= self.settings.host_failures

    async def poll_safely(self, source: Source, state: dict) -> tuple[SourceOutcome, list[int]]:
        """A bug or a database failure while handling one source costs that source only."""
        try:
            outcome, new_ids = await self.poll(source, state)
        except Exception as ex:
            log.error("%s: internal error", source.id, exc_info=True)
            error = f"internal error ({type(ex).__name__}: {ex})"[:300]
            await _in_thread(self.writer.thread, self.record_failure, source, state, error)
            return SourceOutcome(source.id, source.publisher, "error", error=error), []
        if outcome.error:
            log.info("%s: %s", source.id, outcome.error)
        else:
            log.debug("%s: %s, %d new in %d ms", source.id, outcome.outcome, outcome.new,
                      outcome.duration_ms)
        return outcome, new_ids

    def record_failure(self, source: Source, state: dict, error: str) -> None:
        """Put the failure on the source like any other, so that it shows in the sources table
        and backs off. Its entries were rolled back with their transaction."""
        now = self.clock()
        next_poll = _next_poll(self.settings, source, state, FetchResult(url=source.url), error, now)
        try:
            save_fetch(self.db, source,
                       FetchRecord(started=now, duration_ms=0, error=error, next_poll=next_poll))
        except Exception:  # the database itself is failing: the summary is the only report left
            log.error("%s: the failure could not be recorded", source.id, exc_info=True)

    async def poll(self, source: Source, state: dict) -> tuple[SourceOutcome, list[int]]:
        now = self.clock()
        if state.get("retry_after") and datetime.fromisoformat(state["retry_after"]) > now:
            until = utc_time_words(datetime.fromisoformat(state["retry_after"]))
            return SourceOutcome(source.id, source.publisher, "deferred",
                                 error=f"the server asked us to wait until {until}"), []
        url = state.get("fetch_url") or source.request_url
        async with self.limiter.slot(url):
            # Checked again once a slot is free: the sources queued behind a failing one.
            if self.host_is_failing(url):
                # Not an error of the source's own: its next poll comes at its usual interval.
                interval = timedelta(seconds=source.interval or self.settings.interval)
                await _in_thread(self.writer.thread, postpone, self.db, source.id, now + interval)
                return SourceOutcome(source.id, source.publisher, "deferred", error=(
                    f"not polled: {host_of(url)} failed {self.settings.host_failures} times in this pass")), []
            result = await fetch(
                self.client, url, etag=state.get("etag"), last_modified=state.get("last_modified"),
                max_bytes=self.settings.max_bytes,
                allow_private_redirects=is_private_host(source.url),
            )
            if result.error:
                self.host_failures[host_of(url)] += 1
        entries: list[Entry] = []
        skipped: list[str] = []
        error = result.error
        if error is None and not result.not_modified:
            # Here, not at the top: a pass of 304s never loads the parsers (a tenth of its imports).
            from .parse import ParseError

            try:
                entries, skipped = await _in_thread(self.parser_pool, _parse_and_normalise, source, result,
                                                    self.clock().date())
            except ParseError as ex:
                error = str(ex)
            except Exception as ex:  # a parser bug must cost one source, not the whole pass
                log.error("%s: the parser failed", source.id, exc_info=True)
                error = f"could not read the response ({type(ex).__name__}: {ex})"[:300]
        record = FetchRecord(
            started=now, duration_ms=result.duration_ms, status=result.status, nbytes=result.nbytes,
            error=error, etag=result.etag, last_modified=result.last_modified,
            fetch_url=result.permanent_url, not_modified=result.not_modified,
            retry_after=result.retry_after, skipped=tuple(skipped),
            next_poll=_next_poll(self.settings, source, state, result, error, now),
        )
        stored = await self.writer.store(source, record, entries)
        outcome = SourceOutcome(
            source.id, source.publisher,
            "error" if error else ("not modified" if result.not_modified else "fetched"),
            new=len(stored.new_ids), updated=stored.updated, unchanged=stored.unchanged,
            skipped=len(skipped), status=result.status, error=error, duration_ms=result.duration_ms,
        )
        return outcome, stored.new_ids


def _parse_and_normalise(source: Source, result: FetchResult, today: date) -> tuple[list[Entry], list[str]]:
    """The source's entries, and why each entry that could not be read was skipped: one bad
    entry costs itself, never the source's others."""
    from .normalise import normalise_entry
    from .parse import parse_body

    skipped: list[str] = []
    raws = parse_body(source, result.body or b"", result.content_type, result.url, skipped=skipped)
    entries, seen = [], set()
    for number, raw in enumerate(raws, start=1):
        try:
            entry = normalise_entry(raw, base_url=result.url, date_order=source.date_order, today=today)
        except Exception as ex:  # whatever one entry holds must not cost the others
            log.warning("%s: entry %d skipped", source.id, number, exc_info=True)
            skipped.append(f"entry {number} could not be read ({type(ex).__name__}: {str(ex)[:80]})")
            continue
        if entry is not None and entry.url_key not in seen:
            seen.add(entry.url_key)
            entries.append(entry)
    return entries, skipped


def _next_poll(settings: Settings, source: Source, state: dict, result: FetchResult,
               error: str | None, now: datetime) -> datetime:
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
        # A cache hint may stretch the interval up to the ceiling, never silence a source.
        ceiling = max(timedelta(seconds=settings.max_interval), interval)
        interval = max(interval, min(timedelta(seconds=result.max_age), ceiling))
    interval *= 1 + random.uniform(-JITTER, JITTER)
    next_poll = now + interval
    if result.retry_after and result.retry_after > next_poll:
        next_poll = result.retry_after
    return next_poll
