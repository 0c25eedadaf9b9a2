"""`tracker classify`'s streaming: JSON lines in, one JSON line out per line in, in order.

Lines are scored in batches of those that have arrived, and each batch's answers are flushed at
once: a file is scored BATCH lines at a time, while a caller feeding one line at a time and
waiting for each answer still gets it.
"""

from __future__ import annotations

import json
import re
from io import BufferedIOBase
from typing import Iterator, TextIO

from tracker.judgement.features import item_texts
from tracker.judgement.model import BATCH, Classifier, Prediction

SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def classify_lines(classifier: Classifier, stdin: BufferedIOBase, stdout: TextIO) -> None:
    """Write the answers to ``stdin``'s lines to ``stdout``, flushed after each batch."""
    for outputs in classify_stream(stdin, classifier):
        stdout.write("".join(output + "\n" for output in outputs))
        stdout.flush()


def classify_stream(stream: BufferedIOBase, classifier: Classifier) -> Iterator[list[str]]:
    """One output line per input line, in order, in lists: one per batch of the lines that had
    arrived. A bad line gets an ``error`` key, never an exception, and the lines after it are
    still classified."""
    number = 0
    for lines in _arrived_lines(stream):
        parsed = []
        for line in lines:
            number += 1
            parsed.append((number, *_parse_line(line, number)))
        items = [item for _, item, error in parsed if error is None]
        predictions: Iterator[Prediction | Exception]
        try:
            predictions = iter(classifier.predict_many(items))
        except Exception:  # one odd line must not stop the rest: find it by scoring one by one
            predictions = iter([_predict_one(classifier, item) for item in items])
        results = []
        for n, item, error in parsed:
            if error is None:
                prediction = next(predictions)
                if isinstance(prediction, Exception):
                    error = f"line {n}: could not classify ({type(prediction).__name__}: {prediction})"
                else:
                    item = {**item, "themes": prediction.themes,
                            "candidate_score": prediction.candidate_score, "why": prediction.why}
            results.append(json.dumps(item if error is None else {**item, "error": error},
                                      ensure_ascii=False))
        yield results


def _arrived_lines(stream: BufferedIOBase) -> Iterator[list[bytes]]:
    """A binary file's lines, in lists of up to BATCH of those already read (``read1`` returns
    what has arrived, waiting only when nothing has)."""
    pending = bytearray()
    while data := stream.read1(1 << 16):
        end = data.rfind(b"\n")
        if end < 0:
            pending += data
            continue
        lines = (bytes(pending) + data[:end]).split(b"\n")
        pending[:] = data[end + 1 :]
        for start in range(0, len(lines), BATCH):
            yield lines[start : start + BATCH]
    if pending:
        yield [bytes(pending)]


def _predict_one(classifier: Classifier, item: dict) -> Prediction | Exception:
    try:
        return classifier.predict(item)
    except Exception as ex:
        return ex


def _parse_line(line: bytes, number: int) -> tuple[dict, str | None]:
    """(the item, None) for a line to classify, else (what to echo back, the error)."""
    text = line.decode("utf-8", errors="replace").strip()
    if not text:
        return {}, f"line {number}: empty line"
    try:
        item = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as ex:
        return {}, f"line {number}: not valid JSON ({getattr(ex, 'msg', 'too deeply nested')})"
    if not isinstance(item, dict):
        return {}, f"line {number}: expected a JSON object, got {type(item).__name__}"
    if SURROGATE_ESCAPE.search(text):
        try:
            # Half of a surrogate pair escaped alone ("\\ud800") is no character: no UTF-8 can
            # carry the answer. (A whole pair is one character, and fine.)
            json.dumps(item, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return {}, f"line {number}: a lone surrogate escape (such as \\ud800) is not a character"
    title = item.get("title")
    if not isinstance(title, str) or not item_texts(item)[0].strip():
        return item, f"line {number}: a non-empty 'title' string is required"
    return item, None
