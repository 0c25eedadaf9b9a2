"""Learning from the editors: a replay of their decisions on a time-ordered labelled stream the
shipped model never saw (benchmarks/data/independent.jsonl, sorted by date).

    .venv/bin/python benchmarks/bench_learning.py [--steps 0,40,80,160,320] [--stream FILE]
    .venv/bin/python benchmarks/bench_learning.py --develop 0,1,2,3,4 [--shifted]
    .venv/bin/python benchmarks/bench_learning.py --halves 0,1,2

For each step N the first N publications of the stream are the editors' decisions (accepted or
rejected, with their themes). The stream's publications span 2007-2025, but editors decide at
their own pace: decision i is dated i / PACE weeks after the first (``--pace``, default 20 a
week), so `decision_weight` weighs the recent ones more, as `tracker train` does with
reviewed_at; ``--by-date`` dates each by its publication date instead. A model is fitted on the
shipped examples plus those decisions, exactly as `tracker train` fits, and scores the
publications that follow N in the stream (the weeks after, none of them seen); the shipped
model scores the same ones beside it. Prints theme macro-F1 and candidate ROC-AUC for both.

The independent file chooses nothing: a setting (the decisions' weight, say) is chosen on
development streams (``--develop SEEDS``: records of the shipped labelled file in a fixed random
order replayed the same way over a model of the file's other records; see ``development_split``),
and each finished design is replayed on the independent file once, logged in
benchmarks/data/EVALUATIONS.md. ``--shifted`` cuts development streams that differ from their
shipped examples as a new newsletter's would: decisions on publishers the shipped examples never
show (``shifted_split``). ``--halves`` is the protocol issue 12 measured with: the file in a
random order, the first N of one half decided, the other half scored; with ``--through-db``
the decisions are made in a database and learnt by `tracker train`, as the product does.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker.judgement.examples import Example

ROOT = Path(__file__).resolve().parent.parent
STREAM = ROOT / "benchmarks" / "data" / "independent.jsonl"
STEPS = (0, 40, 80, 160, 320)
PACE = 20  # decisions a week: `tracker serve`'s default retrain_after, one retraining a week
DEVELOPMENT_SIZE = 364  # as many as the independent file holds
# A shifted stream holds whole publishers, each with at most this many records (the big
# government publishers stay in the shipped examples), until it holds SHIFTED_SIZE records.
SHIFTED_PUBLISHER_MOST = 60
SHIFTED_SIZE = 300


def replay(stream_path: Path, steps: tuple[int, ...], pace: float | None = PACE) -> list[dict]:
    """The learning curve; ``pace``: decisions a week (None: each decision dated by its
    publication's date)."""
    from tracker.judgement.examples import LABELLED_FILE, read_labelled

    records = sorted(read_labelled(stream_path), key=lambda r: r.get("date") or "")
    return replay_records(records, read_labelled(LABELLED_FILE), steps, pace)


def development_split(seed: int, size: int = DEVELOPMENT_SIZE) -> tuple[list[dict], list[dict]]:
    """A development stream that is not the independent file: ``size`` of the shipped labelled
    file's records in a fixed random order (``seed``), replayed as the editors' decisions, and
    the rest of that file as the shipped examples. It has the shipped labellers' taste, so it
    tells whether decisions are used well, not whether a different newsletter's taste is learnt."""
    import random

    from tracker.judgement.examples import LABELLED_FILE, read_labelled

    records = read_labelled(LABELLED_FILE)
    random.Random(seed).shuffle(records)
    return records[:size], records[size:]


def shifted_split(seed: int) -> tuple[list[dict], list[dict]]:
    """A development stream whose publishers the shipped examples never show: whole publishers
    of the shipped labelled file (each with at most SHIFTED_PUBLISHER_MOST records), taken in a
    fixed random order (``seed``) until the stream holds SHIFTED_SIZE, in a random order; the
    rest of the file is the shipped examples. Like the independent file (other publishers, other
    years) its vocabulary and base rates differ from the shipped examples', so unlike
    ``development_split`` it shows how fast the decisions teach what the shipped examples lack."""
    import random
    from collections import Counter

    from tracker.judgement.examples import LABELLED_FILE, read_labelled

    records = read_labelled(LABELLED_FILE)
    sizes = Counter(r["publisher"] for r in records)
    publishers = sorted(p for p, n in sizes.items() if n <= SHIFTED_PUBLISHER_MOST)
    random.Random(seed).shuffle(publishers)
    chosen: set[str] = set()
    for publisher in publishers:
        if sum(sizes[p] for p in chosen) >= SHIFTED_SIZE:
            break
        chosen.add(publisher)
    stream = [r for r in records if r["publisher"] in chosen]
    random.Random(seed).shuffle(stream)
    return stream, [r for r in records if r["publisher"] not in chosen]


def random_halves(stream_path: Path, seed: int) -> tuple[list[dict], list[dict]]:
    """The file's records in a fixed random order (``seed``), cut in two: decided, then scored."""
    import random

    from tracker.judgement.examples import read_labelled

    records = read_labelled(stream_path)
    random.Random(seed).shuffle(records)
    half = len(records) // 2
    return records[:half], records[half:]


def halves(stream_path: Path, seed: int, steps: tuple[int, ...], pace: float = PACE) -> list[dict]:
    """Issue 12's protocol: the file in a random order (``seed``), the first N of its first half
    replayed as decisions, its second half scored, for each N of ``steps`` the half holds."""
    from tracker.judgement.examples import LABELLED_FILE, read_labelled

    first, second = random_halves(stream_path, seed)
    shipped = read_labelled(LABELLED_FILE)
    return [replay_records(first[:n] + second, shipped, (n,), pace)[0] for n in steps if n <= len(first)]


def halves_through_db(stream_path: Path, seed: int, decisions: int) -> dict:
    """Issue 12's protocol as the product runs it: ``decisions`` publications of the first random
    half (``seed``) stored in a new database and scored as a poll stores them, decided by a
    script in SQL (status and the labelled themes, as editors putting each card right), then
    `tracker train` (the library's ``train``); the second half scored by that database's model
    and by the shipped one."""
    import json
    import tempfile

    from tracker.judgement.classify import classify_publications
    from tracker.judgement.examples import examples_from_records
    from tracker.judgement.metrics import score
    from tracker.judgement.provenance import classifier_for
    from tracker.judgement.themes import load_theme_set
    from tracker.judgement.training import train
    from tracker.store import open_database

    first, second = random_halves(stream_path, seed)
    decided, following = first[:decisions], examples_from_records(second)
    slugs = load_theme_set().slugs
    with tempfile.TemporaryDirectory() as directory:
        db = open_database(Path(directory) / "tracker.db")
        ids = [db["publications"].insert({
            "url": f"https://example.org/{n}", "url_key": f"example.org/{n}", "title": r["title"],
            "summary": r.get("summary") or "", "publisher": r.get("publisher") or "",
            "published": r.get("date"), "first_seen": "2026-01-05T09:00:00Z", "source_id": "replay"}).last_pk
            for n, r in enumerate(decided)]
        classify_publications(db, ids)
        for publication_id, r in zip(ids, decided, strict=True):
            db.execute("update publications set status = ?, themes = ?, reviewed_at = ? where id = ?",
                       ["accepted" if r["candidate"] else "rejected", json.dumps(r["themes"]),
                        "2026-03-02T09:00:00Z", publication_id])
        db.conn.commit()
        started = time.perf_counter()
        train(db)
        seconds = time.perf_counter() - started
        items = [e.as_item() for e in following]
        before = score(following, classifier_for(None).predict_many(items), slugs)
        after = score(following, classifier_for(db).predict_many(items), slugs)
        db.close()
    return {"decisions": decisions, "following": len(following), "from": "-",
            "shipped_f1": before.macro_f1, "learned_f1": after.macro_f1,
            "shipped_auc": before.roc_auc, "learned_auc": after.roc_auc, "fit_seconds": seconds}


def replay_records(records: list[dict], shipped_records: list[dict], steps: tuple[int, ...],
                   pace: float | None = PACE) -> list[dict]:
    """The learning curve of ``records`` replayed in their order as decisions over a model of
    ``shipped_records`` (minus any publication the stream holds)."""
    from tracker.judgement.examples import Example, decision_weight, examples_from_records
    from tracker.judgement.fitting import fit_model
    from tracker.judgement.metrics import score
    from tracker.judgement.model import Classifier
    from tracker.judgement.themes import load_theme_set
    from tracker.text import title_key

    theme_set = load_theme_set()
    stream = examples_from_records(records)
    if pace:
        dates = [date(2026, 1, 1) + timedelta(days=7 * i / pace) for i in range(len(records))]
    else:
        dates = [date.fromisoformat(r["date"]) for r in records]
    held = {title_key(e.title) for e in stream}
    shipped = [e for e in examples_from_records(shipped_records) if title_key(e.title) not in held]
    shipped_classifier = Classifier(theme_set, fit_model(shipped, theme_set))
    rows = []
    # The themes each decision's card showed: the model of the step before it.
    shown: list[tuple[str, ...]] = []
    learned = shipped_classifier
    for n in steps:
        following = stream[n:]
        if not following:
            continue
        shown += [tuple(p.themes) for p in learned.predict_many([e.as_item() for e in stream[len(shown):n]])]
        newest = dates[n - 1] if n else None
        decisions = [Example(e.title, e.summary, e.publisher, themes_heard(e, card), e.candidate,
                             decision_weight((newest - d).days if newest else 0), by_editor=True)
                     for e, d, card in zip(stream[:n], dates[:n], shown, strict=True)]
        started = time.perf_counter()
        learned = Classifier(theme_set, fit_model(shipped + decisions, theme_set)) if n else shipped_classifier
        seconds = time.perf_counter() - started
        items = [e.as_item() for e in following]
        before = score(following, shipped_classifier.predict_many(items), theme_set.slugs)
        after = score(following, learned.predict_many(items), theme_set.slugs)
        rows.append({"decisions": n, "following": len(following), "from": records[n].get("date", "-"),
                     "shipped_f1": before.macro_f1, "learned_f1": after.macro_f1,
                     "shipped_auc": before.roc_auc, "learned_auc": after.roc_auc, "fit_seconds": seconds})
    return rows


def themes_heard(decision: Example, card: tuple[str, ...]) -> tuple[str, ...] | None:
    """What `tracker train` learns of a decision's themes (examples_from_db), the editor having
    put right the themes its card showed: an accepted publication's themes, and a rejected
    one's only where the card was wrong (an editor's change marks them)."""
    if decision.themes is None or decision.candidate or set(decision.themes) != set(card):
        return decision.themes
    return None


def table(rows: list[dict]) -> str:
    def auc(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = ["| decisions | following publications (from) | macro-F1 shipped | macro-F1 learned | change "
             "| AUC shipped | AUC learned | change |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        auc_change = ("n/a" if r["shipped_auc"] is None or r["learned_auc"] is None
                      else f"{r['learned_auc'] - r['shipped_auc']:+.3f}")
        lines.append(f"| {r['decisions']} | {r['following']} ({r['from']}) | {r['shipped_f1']:.3f} | "
                     f"{r['learned_f1']:.3f} | {r['learned_f1'] - r['shipped_f1']:+.3f} | "
                     f"{auc(r['shipped_auc'])} | {auc(r['learned_auc'])} | {auc_change} |")
    return "\n".join(lines)


def develop(seeds: list[int], steps: tuple[int, ...], pace: float, shifted: bool = False) -> int:
    split, kind = ((shifted_split, "publishers the shipped examples lack") if shifted else
                   (development_split, f"{DEVELOPMENT_SIZE} shipped examples in a random order"))
    curves = []
    for seed in seeds:
        print(f"Development stream {seed}: {kind} as the editors' decisions ({pace:g} a week), "
              f"the rest as the shipped file\n")
        curves.append(replay_records(*split(seed), steps, pace))
        print(table(curves[-1]) + "\n")
    print("Mean change over the streams, theme macro-F1 / candidate ROC-AUC:")
    print(mean_change(curves))
    return 0


def mean_change(curves: list[list[dict]]) -> str:
    lines = []
    for rows in zip(*curves, strict=True):
        f1 = sum(r["learned_f1"] - r["shipped_f1"] for r in rows) / len(rows)
        auc = sum(r["learned_auc"] - r["shipped_auc"] for r in rows) / len(rows)
        lines.append(f"  after {rows[0]['decisions']}: {f1:+.3f} / {auc:+.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default=",".join(map(str, STEPS)),
                        help="decisions replayed before each measurement, comma-separated")
    parser.add_argument("--stream", type=Path, default=STREAM, help="labelled JSON lines with dates")
    parser.add_argument("--pace", type=float, default=PACE, help="editors' decisions a week")
    parser.add_argument("--by-date", action="store_true",
                        help="date each decision by its publication's date instead of --pace")
    parser.add_argument("--quick", action="store_true", help="two steps only (0 and 40)")
    parser.add_argument("--develop", metavar="SEEDS",
                        help="replay development streams cut from the shipped labelled file instead "
                             "(comma-separated seeds), with the mean change over them")
    parser.add_argument("--shifted", action="store_true",
                        help="with --develop: streams of publishers the shipped examples lack")
    parser.add_argument("--through-db", action="store_true",
                        help="with --halves: decide in a database by SQL and run tracker train, "
                             "as the product learns (the largest of --steps decisions)")
    parser.add_argument("--halves", metavar="SEEDS",
                        help="random halves of --stream (comma-separated seeds): decisions from one, "
                             "the other scored")
    args = parser.parse_args(argv)
    steps = (0, 40) if args.quick else tuple(int(s) for s in args.steps.split(","))
    if args.develop:
        return develop([int(seed) for seed in args.develop.split(",")], steps, args.pace, args.shifted)
    if args.halves:
        curves = []
        for seed in (int(seed) for seed in args.halves.split(",")):
            print(f"{args.stream.name} in random order {seed}: decisions from its first half, "
                  f"its second half scored\n")
            curves.append([halves_through_db(args.stream, seed, max(steps))] if args.through_db
                          else halves(args.stream, seed, steps, args.pace))
            print(table(curves[-1]) + "\n")
        print("Mean change over the halves, theme macro-F1 / candidate ROC-AUC:")
        print(mean_change(curves))
        return 0
    dated = "by publication date" if args.by_date else f"{args.pace:g} decisions a week"
    print(f"Replay of {args.stream.name}, sorted by date: the first N are the editors' decisions "
          f"({dated}), the rest are scored\n")
    print(table(replay(args.stream, steps, None if args.by_date else args.pace)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
