"""`tracker classify`, `train` and `evaluate`: the judgement stage's commands."""

from __future__ import annotations

import sys

import click

from .errors import user_errors
from .params import db_option


@click.command()
@click.option("--rules-only", is_flag=True, help="Use themes.yaml's phrases alone, no model")
@click.option("--db", "db_path", type=click.Path(dir_okay=False),
              help="Score with this database's newest model from tracker train (else the shipped one)")
@user_errors
def classify(rules_only: bool, db_path: str | None) -> None:
    """Themes and a candidate score for JSON lines on stdin, one JSON line out per line in.

    Each input line is an object with a title (summary, publisher, url and any other keys are
    passed through); the output adds themes, candidate_score (0 to 1) and why. A bad line gets
    an "error" key and the rest carries on. Needs no network.

    \b
    Example:
        echo '{"title": "Kinship care strategy", "publisher": "DfE"}' | tracker classify
    """
    from io import BufferedIOBase
    from typing import cast

    from tracker.judgement.model import Classifier
    from tracker.judgement.provenance import classifier_for
    from tracker.judgement.themes import load_theme_set

    from .jsonlines import classify_lines

    if rules_only:
        classifier = Classifier(load_theme_set())
    else:
        from tracker.store import open_database

        classifier = classifier_for(open_database(db_path, must_exist=True) if db_path else None)
    # typeshed calls stdin's buffer a BinaryIO; it is a BufferedReader, whose read1 streaming needs
    classify_lines(classifier, cast(BufferedIOBase, sys.stdin.buffer), sys.stdout)


@click.command()
@db_option
# `tracker serve` retrains in a process of its own (never holding up a page or a poll) and
# says so; not for people, so not in --help.
@click.option("--background", is_flag=True, hidden=True)
@user_errors
def train(db_path: str, background: bool) -> None:
    """Retrain from the editors' decisions and the shipped examples; re-score unreviewed.

    Prints cross-validated precision, recall and F1 per theme and the candidate ROC-AUC, beside
    the keyword-only baseline, stores the new model version in the database, and re-scores the
    publications not yet reviewed. Statuses and editor-set themes are never changed.
    """
    from tracker.judgement.training import train as train_model
    from tracker.store import open_database

    from .scores import scores_table

    trained = train_model(open_database(db_path, must_exist=True), trigger="background" if background else "train")
    click.echo(scores_table(trained.evaluation))
    click.echo(f"\nStored model {trained.model.version}; re-scored {trained.rescored} unreviewed publications.")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--db", "db_path", type=click.Path(dir_okay=False),
              help="Also train on this database's editor decisions")
@click.option("--cross-validate", is_flag=True, help="Cross-validate on FILE alone instead")
@user_errors
def evaluate(file: str, db_path: str | None, cross_validate: bool) -> None:
    """Score a labelled JSON-lines file (title, summary, publisher, themes, candidate).

    By default a model trained on the shipped examples (and --db's decisions) minus FILE's own
    publications scores FILE; the keyword-only baseline is printed beside it.
    """
    from tracker.judgement.training import evaluate as evaluate_file
    from tracker.store import open_database

    from .scores import scores_table

    db = open_database(db_path, must_exist=True) if db_path else None
    click.echo(scores_table(evaluate_file(file, db, cross_validate_file=cross_validate), file))
