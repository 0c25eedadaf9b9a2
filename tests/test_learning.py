"""Learning from the editors (issue 12): their decisions weigh more than the shipped examples,
recent ones more than old ones; `tracker classify --db` scores with the database's newest model;
`tracker serve` retrains in the background after every N decisions; the remit gate."""

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from tracker import cli
from tracker.judgement.examples import EDITOR_WEIGHT, HALF_LIFE_DAYS, decision_weight, examples_from_db
from tracker.judgement.model import Classifier
from tracker.judgement.provenance import shipped_model
from tracker.judgement.themes import load_theme_set
from tracker.store.judgements import decisions_since, model_history, newest_model_time, save_model
from tracker.web.retrain import Retrainer


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def cache(shared_cache, monkeypatch):
    monkeypatch.setenv("TRACKER_CACHE", str(shared_cache))
    return shared_cache


@pytest.fixture(scope="module")
def theme_set():
    return load_theme_set()


def decide(add_publication, title, status, reviewed_at, themes=()):
    return add_publication(title, status=status, reviewed_at=reviewed_at, themes=themes,
                           themes_by_editor=1 if themes else 0)


def test_a_decision_counts_more_than_a_shipped_example_and_fades_with_age():
    assert decision_weight(0) == EDITOR_WEIGHT > 1
    assert decision_weight(HALF_LIFE_DAYS) == pytest.approx(EDITOR_WEIGHT / 2)
    assert decision_weight(4 * HALF_LIFE_DAYS) == pytest.approx(EDITOR_WEIGHT / 16)
    assert decision_weight(-3) == EDITOR_WEIGHT  # a clock skew never makes one count more


def test_decisions_are_weighted_by_age_relative_to_the_newest(db, add_publication):
    decide(add_publication, "Kinship care strategy", "accepted", "2026-06-01T09:00:00Z", ["kinship"])
    decide(add_publication, "Our summer raffle", "rejected", "2025-12-01T09:00:00Z")
    add_publication("Not yet reviewed", status="new")
    weights = {e.title: e.weight for e in examples_from_db(db)}
    assert weights == {"Kinship care strategy": EDITOR_WEIGHT,
                       "Our summer raffle": pytest.approx(decision_weight(182))}
    assert decisions_since(db, None) == 2
    assert decisions_since(db, "2026-01-01T00:00:00Z") == 1


def test_an_accepted_card_s_themes_are_labels_a_rejection_s_only_once_changed(db, add_publication):
    """Read only where an editor changed them, the themes would be a sample of the classifier's
    mistakes; accepting a scored card lets its themes stand on a line of the newsletter, so they
    are the editors' (and no later scoring rewrites them). A rejection says nothing of them, nor
    does a publication accepted before it was scored (its card showed none) or a past issue's
    line imported already accepted: its themes are the classifier's guess."""
    from tracker.store.judgements import Score, save_scores

    def scored(title, themes, **row):
        publication = add_publication(title, status=row.pop("status", "new"), **row)
        save_scores(db, [Score(publication, themes, 0.8, "m1", {"model": "m1"})])
        return publication

    def decide(publication, status):  # as the workspace's set_status and a script in SQL do
        db.execute("update publications set status = ?, reviewed_at = '2026-06-01T09:00:00Z' where id = ?",
                   [status, publication])

    decide(scored("Kinship care strategy", ["kinship"]), "accepted")
    decide(scored("Adoption league tables", ["adoption"]), "rejected")
    scored("Not yet reviewed", ["send"])
    scored("A line of a past issue", ["education"], status="accepted", reviewed_at="2026-06-01T09:00:00Z")
    early = add_publication("Accepted before its scoring", status="new")
    decide(early, "accepted")
    save_scores(db, [Score(early, ["finance"], 0.7, "m1", {"model": "m1"})])
    assert {e.title: (e.themes, e.candidate) for e in examples_from_db(db)} == {
        "Kinship care strategy": (("kinship",), True), "Adoption league tables": (None, False),
        "A line of a past issue": (None, True), "Accepted before its scoring": (None, True)}
    # An accepted card's themes stay as the editor accepted them whatever scores it later.
    kinship = db.execute("select id from publications where title = 'Kinship care strategy'").fetchone()[0]
    save_scores(db, [Score(kinship, ["finance"], 0.2, "m2", {"model": "m2"})])
    assert db.execute("select themes from publications where id = ?", [kinship]).fetchone()[0] == '["kinship"]'


def test_classify_with_db_scores_with_that_database_s_newest_model(db, db_path, add_publication, theme_set):
    from tracker.judgement.examples import examples_from_records
    from tracker.judgement.fitting import fit_model

    records = [{"title": f"Section 251 outturn return part {n}", "themes": ["finance"], "candidate": True}
               for n in range(6)]
    records += [{"title": f"Court hearing list week {n}", "themes": [], "candidate": False} for n in range(6)]
    model = fit_model(examples_from_records(records), theme_set, data_digest="abc", source="db")
    save_model(db, model.version, model.to_bytes(), trained_at="2026-11-30T10:00:00Z", examples=12,
               metrics={}, themes_digest=theme_set.digest, data_digest="abc")
    line = json.dumps({"title": "Section 251 outturn return 2025", "url": "https://example.org/x"}) + "\n"
    result = CliRunner().invoke(cli.cli, ["classify", "--db", str(db_path)], input=line)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["why"]["model"] == model.version and out["url"] == "https://example.org/x"
    assert out["themes"] == ["finance"]
    shipped = json.loads(CliRunner().invoke(cli.cli, ["classify"], input=line).output)
    assert shipped["why"]["model"].startswith("shipped-")


def test_classify_with_a_database_without_models_uses_the_shipped_one(db_path, db):
    result = CliRunner().invoke(cli.cli, ["classify", "--db", str(db_path)], input='{"title": "Adoption"}\n')
    assert result.exit_code == 0 and json.loads(result.output)["why"]["model"].startswith("shipped-")


def test_classify_with_a_missing_database_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli.cli, ["classify", "--db", str(tmp_path / "none.db")], input="{}\n")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "no database at" in result.output


@pytest.mark.parametrize("title, summary", [
    ("School teachers' pay award 2026 to 2027", "The pay award for teachers and school leaders."),
    ("Childcare providers and inspections as at 31 March 2026", "Registered nurseries and childminders."),
    ("Adult social care workforce: vacancies and turnover 2026", "Care workers in adult social care."),
    ("Consumer price inflation, UK: October 2026", "Inflation, including the price of childcare."),
])
def test_out_of_the_networks_remit_a_topical_publication_gets_no_theme(theme_set, title, summary):
    prediction = Classifier(theme_set, shipped_model(theme_set)).predict({"title": title, "summary": summary})
    assert prediction.themes == [], prediction.why
    assert prediction.why["remit"] < 0.5


def test_within_the_remit_themes_still_apply(theme_set):
    prediction = Classifier(theme_set, shipped_model(theme_set)).predict(
        {"title": "Fostering allowances: a survey of foster carers", "publisher": "The Fostering Network"})
    assert "fostering" in prediction.themes and prediction.why["remit"] > 0.5


@pytest.mark.slow  # a real `tracker train` process
def test_serve_s_retrainer_trains_in_the_background_after_every_n_decisions(db, db_path, add_publication):
    for n in range(19):
        decide(add_publication, f"Kinship care guide part {n}", "accepted" if n % 2 else "rejected",
               f"2026-11-{n + 1:02d}T09:00:00Z", ["kinship"])
    retrainer = Retrainer(db_path, every=20)
    assert retrainer.due() == 0 and not retrainer.run_once()  # 19: not yet
    decide(add_publication, "Kinship care guide part 19", "accepted", "2026-11-29T09:00:00Z", ["kinship"])
    unreviewed = add_publication("Special guardianship support", status="new")
    assert retrainer.due() == 20
    assert retrainer.run_once()
    [model] = model_history(db)
    assert model["trigger"] == "background" and model["decisions"] == 20
    assert model["metrics"]["macro_f1"] > 0
    assert db["publications"].get(unreviewed)["model_version"] == model["version"]  # re-scored
    assert newest_model_time(db) == model["trained_at"]
    assert retrainer.due() == 0 and not retrainer.run_once()  # nothing new since


def test_the_retrainer_stops_with_the_server(db_path, db):
    retrainer = Retrainer(db_path, every=20, check=0.05)
    retrainer.start()
    retrainer.stop()
    assert not retrainer.is_alive()


def two_kinds_stream(tmp_path, each: int):
    """A dated stream of ``each`` finance candidates (DfE's section 251 returns) and ``each``
    out-of-remit non-candidates (court hearing lists), as JSON lines."""
    records = [{"title": f"Section 251 outturn return {2000 + n}", "summary": "", "publisher": "DfE",
                "date": f"{2000 + n}-06-01", "themes": ["finance"], "candidate": True} for n in range(each)]
    records += [{"title": f"Court hearing list {2000 + n}", "summary": "", "publisher": "HMCTS",
                 "date": f"{2000 + n}-06-02", "themes": [], "candidate": False} for n in range(each)]
    stream = tmp_path / "stream.jsonl"
    stream.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return stream


@pytest.mark.slow  # fits models
def test_the_learning_benchmark_replays_decisions_and_scores_what_follows(tmp_path, repo_root):
    import sys

    sys.path.insert(0, str(repo_root / "benchmarks"))
    from bench_learning import replay, table

    rows = replay(two_kinds_stream(tmp_path, 8), (0, 8))
    assert [(r["decisions"], r["following"]) for r in rows] == [(0, 16), (8, 8)]
    assert rows[0]["learned_f1"] == rows[0]["shipped_f1"]
    # 4 of each kind decided: the learned model knows section 251 returns are finance candidates
    assert rows[1]["learned_f1"] >= rows[1]["shipped_f1"] and rows[1]["learned_auc"] == 1.0
    assert "| 8 | 8 (" in table(rows)


def test_a_development_stream_is_a_fixed_part_of_the_shipped_file_and_the_rest_its_shipped_examples(repo_root):
    import sys

    from tracker.judgement.examples import LABELLED_FILE, read_labelled

    sys.path.insert(0, str(repo_root / "benchmarks"))
    from bench_learning import DEVELOPMENT_SIZE, development_split

    stream, shipped = development_split(0)
    assert len(stream) == DEVELOPMENT_SIZE
    whole = read_labelled(LABELLED_FILE)
    assert sorted(map(json.dumps, stream + shipped)) == sorted(map(json.dumps, whole))
    assert development_split(0) == (stream, shipped)  # the same stream every run
    assert development_split(1)[0] != stream


def test_a_shifted_development_stream_holds_whole_publishers_the_shipped_examples_lack(repo_root):
    import sys

    from tracker.judgement.examples import LABELLED_FILE, read_labelled

    sys.path.insert(0, str(repo_root / "benchmarks"))
    from bench_learning import SHIFTED_PUBLISHER_MOST, SHIFTED_SIZE, shifted_split

    stream, shipped = shifted_split(0)
    assert len(stream) >= SHIFTED_SIZE
    assert not {r["publisher"] for r in stream} & {r["publisher"] for r in shipped}
    assert max(Counter(r["publisher"] for r in stream).values()) <= SHIFTED_PUBLISHER_MOST
    whole = read_labelled(LABELLED_FILE)
    assert sorted(map(json.dumps, stream + shipped)) == sorted(map(json.dumps, whole))
    assert shifted_split(0) == (stream, shipped) and shifted_split(1)[0] != stream


@pytest.mark.slow  # fits models
def test_random_halves_decide_from_one_half_and_score_the_other(tmp_path, repo_root):
    import sys

    sys.path.insert(0, str(repo_root / "benchmarks"))
    from bench_learning import halves

    rows = halves(two_kinds_stream(tmp_path, 10), 0, (0, 10, 11))  # 11 is more than the half holds: no row
    assert [(r["decisions"], r["following"]) for r in rows] == [(0, 10), (10, 10)]
    assert rows[0]["learned_f1"] == rows[0]["shipped_f1"]


@pytest.mark.slow  # fits models and trains a database's
def test_halves_through_a_database_decide_in_sql_and_learn_by_tracker_train(tmp_path, repo_root):
    import sys

    sys.path.insert(0, str(repo_root / "benchmarks"))
    from bench_learning import halves_through_db

    row = halves_through_db(two_kinds_stream(tmp_path, 10), 0, 10)
    assert (row["decisions"], row["following"]) == (10, 10)
    # The decisions' themes reached tracker train through the database: section 251 returns,
    # which the shipped model does not call finance, now are.
    assert row["learned_f1"] > row["shipped_f1"] and row["learned_auc"] == 1.0


@pytest.mark.slow  # fits a model on the shipped examples
def test_a_new_theme_is_learnt_from_a_handful_of_editors_decisions(tmp_path, monkeypatch):
    from tracker.judgement.examples import LABELLED_FILE, Example, examples_from_records, read_labelled
    from tracker.judgement.fitting import fit_model
    from tracker.paths import data_file

    text = data_file("themes.yaml").read_text(encoding="utf-8")
    text = text.replace("\nthemes:\n", "\nthemes:\n  housing:\n    label: Housing\n    network: Commissioners\n"
                        "    description: Where families and care leavers live.\n"
                        "    include: [temporary accommodation]\n", 1)
    (tmp_path / "themes.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    edited = load_theme_set()
    assert "housing" in edited.slugs
    decided = [Example(title, "", "Shelter", ("housing",), True, decision_weight(0)) for title in (
        "Homeless families placed in bed and breakfast: council survey",
        "Homeless care leavers: bed and breakfast placements rise",
        "Bed and breakfast for homeless families with children: the legal limit",
        "Homeless 16 and 17 year olds: joint housing and children's services protocols",
    )]
    model = fit_model(examples_from_records(read_labelled(LABELLED_FILE)) + decided, edited)
    assert "housing" in model.slugs  # the model, not only the phrase, now decides it
    prediction = Classifier(edited, model).predict(
        {"title": "Homeless families in bed and breakfast for over six weeks", "publisher": "Shelter"})
    assert "housing" in prediction.themes and "housing" not in prediction.why["rules"]


def test_the_editors_own_taste_in_candidates_corrects_the_pooled_score(theme_set):
    from dataclasses import replace

    from tracker.judgement.examples import Example
    from tracker.judgement.fitting import MIN_DECIDED, fit_model

    regions = ["north", "south", "east", "west", "midlands", "wessex", "mercia", "anglia", "kent", "essex",
               "devon", "dorset", "cumbria", "surrey", "sussex", "norfolk", "suffolk", "durham"]
    shipped = [Example(f"Annual report on children in care in {r}", "", "Council", None, True) for r in regions]
    shipped += [Example(f"Press release about school meals in {r}", "", "Council", None, False) for r in regions]
    # These editors list research on kinship carers and never an annual report.
    decided = [Example(f"Annual report on children in care, {r} trust", "", "Council", None, False,
                       decision_weight(0), by_editor=True) for r in regions[:MIN_DECIDED]]
    decided += [Example(f"Research with kinship carers in {r}", "", "Council", None, True,
                        decision_weight(0), by_editor=True) for r in regions[:MIN_DECIDED]]
    item = {"title": "Annual report on children in care in Rutland", "publisher": "Council"}

    def score(examples):
        return Classifier(theme_set, fit_model(examples, theme_set)).predict(item).candidate_score

    pooled_only = score(shipped + [replace(e, by_editor=False) for e in decided])
    # The pooled column fits these decisions already (its offset for them), so the correction is
    # small in probability here: 1.0 to 0.991 is about 9 to 5 in log-odds.
    assert score(shipped + decided) < pooled_only - 0.005
    # Too few decisions to correct on: pooled with the shipped examples only.
    too_few = [e for e in decided if e.candidate][:MIN_DECIDED] + [decided[0]]
    assert score(shipped + too_few) == score(shipped + [replace(e, by_editor=False) for e in too_few])


def test_decisions_with_no_shipped_examples_to_hold_them_are_the_pooled_column_as_fitted(theme_set):
    # With no shipped examples the correction had no prior: an unpenalised fit of separable
    # decisions, its weights running off until the minimiser gave up.
    from dataclasses import replace

    from tracker.judgement.examples import Example
    from tracker.judgement.fitting import MIN_DECIDED, fit_model

    decided = [Example(f"Research with kinship carers, study {n}", "", "Kinship", None, True,
                       decision_weight(0), by_editor=True) for n in range(MIN_DECIDED)]
    decided += [Example(f"Press release about school meals, number {n}", "", "Council", None, False,
                        decision_weight(0), by_editor=True) for n in range(MIN_DECIDED)]
    as_decided = fit_model(decided, theme_set)
    as_shipped = fit_model([replace(e, by_editor=False) for e in decided], theme_set)
    assert abs(as_decided.weights - as_shipped.weights).max() < 1e-3
    assert abs(as_decided.bias - as_shipped.bias).max() < 1e-3


def test_a_theme_the_editors_tag_differently_moves_towards_their_own_model(theme_set):
    from dataclasses import replace

    from tracker.judgement.examples import Example
    from tracker.judgement.features import features
    from tracker.judgement.fitting import MIN_DECIDED, fit_model

    regions = ["north", "south", "east", "west", "midlands", "wessex", "mercia", "anglia", "kent", "essex",
               "devon", "dorset", "cumbria", "surrey", "sussex", "norfolk", "suffolk", "durham"]
    shipped = [Example(f"Report on fostering allowances in {r}", "", "Council", ("fostering",), True) for r in regions]
    shipped += [Example(f"Report on pupil exclusions in {r}", "", "Council", ("education",), True) for r in regions]
    shipped += [Example(f"Report on special needs transport in {r}", "", "Council", ("send",), True) for r in regions]
    shipped += [Example(f"Press release about bins in {r}", "", "Council", (), False) for r in regions]
    # These editors file exclusions under SEND.
    decided = [Example(f"Report on pupil exclusions, {r} trust", "", "Council", ("send",), True,
                       decision_weight(0), by_editor=True) for r in regions[:MIN_DECIDED]]
    decided += [Example(f"Report on fostering allowances, {r} trust", "", "Council", ("fostering",), True,
                        decision_weight(0), by_editor=True) for r in regions[:MIN_DECIDED]]
    item = {"title": "Report on pupil exclusions in Rutland", "publisher": "Council"}

    def send_log_odds(examples):
        """The send column's calibrated log-odds for the item, as the Classifier computes them."""
        model = fit_model(examples, theme_set)
        indices, values, _ = model.rows([features(item, Classifier(theme_set, model).rules)])
        first = values @ model.first_weights[indices] + model.first_bias
        column = model.slugs.index("send")
        decision = values @ model.weights[indices, column] + model.bias[column] + first @ model.stack[:, column]
        a, b = model.calibration[column]
        return float(a * decision + b)

    pooled_only = send_log_odds(shipped + [replace(e, by_editor=False) for e in decided])
    assert send_log_odds(shipped + decided) > pooled_only + 2
    # Fewer than MIN_DECIDED of the editors' decisions say send: the pooled column alone.
    too_few = decided[: MIN_DECIDED - 1] + decided[MIN_DECIDED:]
    # (approx: liblinear's coordinate order comes from numpy's global random state)
    assert send_log_odds(shipped + too_few) == pytest.approx(
        send_log_odds(shipped + [replace(e, by_editor=False) for e in too_few]), abs=1e-3)
