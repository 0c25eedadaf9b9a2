import ast
import json
import os
import select
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker import cli
from tracker.entries import Entry
from tracker.ingest.normalise import url_key
from tracker.judgement.classify import classify_publications
from tracker.judgement.model import Classifier, Model
from tracker.judgement.provenance import latest_model
from tracker.judgement.themes import ThemesError, load_theme_set, parse_themes, theme_list
from tracker.store import FetchRecord, save_fetch, sync_sources

ROOT = Path(__file__).resolve().parent.parent
TRACKER = Path(sys.executable).parent / "tracker"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def cache(shared_cache, monkeypatch):
    """The shipped model is trained once per test session into a scratch cache, never the
    user's (test_classify_cli_trains_once_then_reuses_its_cache starts from an empty one)."""
    monkeypatch.setenv("TRACKER_CACHE", str(shared_cache))
    return shared_cache


@pytest.fixture(scope="module")
def theme_set():
    return load_theme_set()


@pytest.fixture
def editable_themes(db):
    """The themes table `tracker serve` fills from themes.yaml: the edit trigger checks it."""
    for theme in load_theme_set().themes:
        db["themes"].insert({"slug": theme.slug, "label": theme.label,
                             "description": theme.description, "network": theme.network},
                            replace=True)


def edit(db, publication_id, action, value, editor="editor1"):
    """An editor's edit exactly as the workspace makes it: through the audited edit view."""
    db.execute(
        "insert into publication_edits (editor, publication_id, action, value) values (?, ?, ?, ?)",
        [editor, publication_id, action, value],
    )


def row(db, publication_id):
    return db["publications"].get(publication_id)


# --- themes.yaml --------------------------------------------------------------------------

def test_themes_yaml_has_the_contract_slugs_each_described_with_a_network(theme_set):
    assert theme_set.slugs == [
        "send", "kinship", "fostering", "adoption", "workforce", "safeguarding", "early_help",
        "children_in_care", "education", "mental_health", "family_justice", "youth_justice",
        "finance", "inspection",
    ]
    for theme in theme_set.themes:
        assert theme.label and theme.network and len(theme.description) > 80 and theme.include


@pytest.mark.parametrize("data, message", [
    ({"themes": []}, "a 'themes' mapping"),
    ({"themes": {"send": {"label": "SEND"}}, "extra": 1}, "unknown top-level key: extra"),
    ({"themes": {"Bad Slug": {}}}, "lower case letters"),
    ({"themes": {"send": {"label": "SEND", "network": "n", "description": "d", "include": ["x"],
                          "colour": "red"}}}, "theme send: unknown key: colour"),
    ({"themes": {"send": {"network": "n", "description": "d", "include": ["x"]}}},
     "theme send: 'label' is required"),
    ({"themes": {"send": {"label": "S", "network": "n", "description": "d", "include": []}}},
     "'include' must be a list of phrases"),
    ({"themes": {"send": {"label": "S", "network": "n", "description": "d", "include": ["!!"]}}},
     "'!!' is not a phrase"),
])
def test_invalid_themes_are_refused_with_a_clear_message(data, message):
    with pytest.raises(ThemesError, match=message):
        parse_themes(data)


def test_a_broken_themes_file_is_a_one_line_error_from_the_cli(tmp_path, monkeypatch):
    (tmp_path / "themes.yaml").write_text("themes:\n  send: [unclosed\n")
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    result = CliRunner().invoke(cli.cli, ["classify"], input='{"title": "x"}\n')
    assert result.exit_code == 2
    assert result.output.strip().startswith("Error:") and "not valid YAML at line" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value, themes", [
    ('["kinship", "send"]', ["kinship", "send"]),
    (None, []),
    ("", []),
    ('["kinship", 7, null]', ["kinship"]),
    ('{"kinship": 1}', []),
    ("not json", []),
])
def test_a_themes_column_is_read_defensively(value, themes):
    assert theme_list(value) == themes


def test_the_workspace_s_themes_table_comes_from_the_one_validated_reader(tmp_path, monkeypatch, theme_set):
    from tracker.web.serve import load_theme_rows

    assert [(r["slug"], r["label"], r["network"]) for r in load_theme_rows()] == [
        (t.slug, t.label, t.network) for t in theme_set.themes]
    (tmp_path / "themes.yaml").write_text("themes:\n  send: {label: SEND, description: d, include: [send]}\n")
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    with pytest.raises(ThemesError, match="'network' is required"):
        load_theme_rows()


def test_the_judgement_stage_imports_one_way():
    """No cycle among its modules, function-local imports included, and nothing from a stage
    above it. ``fitting`` (scikit-learn) is loaded by provenance, metrics and training alone."""
    package = ROOT / "tracker" / "judgement"
    modules = {path.stem for path in package.glob("*.py")}
    graph = {}
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = node.module or ""
                if node.level:
                    name = "tracker.judgement" + ("." + name if name else "")
                # ``from . import rules`` imports a module by the name it imports
                imported.update([name, *(f"{name}.{alias.name}" for alias in node.names)])
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[path.stem] = {name.split(".")[2] for name in imported
                            if name.startswith("tracker.judgement.")} & modules
        above = {name for name in imported if name.startswith("tracker.")
                 and name.split(".")[1] in {"ingest", "publish", "web", "ops", "cli"}}
        assert not above, f"{path.name} imports {above}"
    done: list[str] = []
    while len(done) < len(graph):
        ready = sorted(m for m in graph if m not in done and graph[m] <= set(done))
        assert ready, f"import cycle among {sorted(set(graph) - set(done))}"
        done += ready
    assert {m for m in graph if "fitting" in graph[m]} == {"provenance", "metrics", "training"}


# --- cold start: the rules alone ----------------------------------------------------------

@pytest.mark.parametrize("title, publisher, theme", [
    ("Key stage 2 attainment for academic year 2023/24", "DfE", "education"),
    ("Raised by Relatives: the experiences of Black and Asian kinship carers", "Kinship", "kinship"),
    ("Family Court Statistics Quarterly: October to December 2024", "MoJ", "family_justice"),
    ("State of the Nations’ Foster Care – Full Report 2024", "The Fostering Network", "fostering"),
    ("Children’s social work workforce data for 2024", "DfE", "workforce"),
    ("‘Disguised compliance’: learning from case reviews", "NSPCC", "safeguarding"),
    ("The Families First Partnership (FFP) programme guide", "DfE", "early_help"),
    ("Staying put: leaving care and the risk of homelessness", "Centre for Homelessness Impact",
     "children_in_care"),
    ("Towards an effective and financially sustainable approach to SEND in England", "LGA", "send"),
    ("A call for change – tackling inequalities in access to mental health support", "NCB",
     "mental_health"),
    ("Children’s services spending report: a long road to recovery", "NSPCC", "finance"),
])
def test_cold_start_rules_give_sensible_themes(theme_set, title, publisher, theme):
    prediction = Classifier(theme_set, None).predict({"title": title, "publisher": publisher})
    assert theme in prediction.themes
    assert prediction.why["rules"][theme] and prediction.why["model"] == "rules"


@pytest.mark.parametrize("title, wrong_theme", [
    ("Adult social care workforce estimates 2024", "workforce"),
    ("Childcare market: funded childcare entitlements for providers", "early_help"),
    ("Send us your views on the consultation", "send"),
])
def test_cold_start_rules_respect_what_a_theme_excludes(theme_set, title, wrong_theme):
    assert wrong_theme not in Classifier(theme_set, None).predict({"title": title}).themes


def test_cold_start_scores_routine_publications_below_children_s_services(theme_set):
    rules = Classifier(theme_set, None)
    routine = [rules.predict({"title": t}).candidate_score for t in (
        "Apprenticeship funding rules 2025 to 2026", "Consumer price inflation, UK: October 2025",
        "Spring fundraising quiz: sign up your team")]
    relevant = [rules.predict({"title": t}).candidate_score for t in (
        "Kinship care strategy: support for kinship carers",
        "Fostering better services for foster carers and children in care")]
    assert max(routine) < min(relevant)


# --- learning from the editors ------------------------------------------------------------

SECTION_251 = "Section 251 outturn: local authority returns for {}"
HEARING_LIST = "Weekly SEND tribunal hearing list for {}"
QA_NOTE = "Practice note {} from the regional quality circle"
YEARS = ["2016 to 2017", "2017 to 2018", "2018 to 2019", "2019 to 2020", "2020 to 2021",
         "2021 to 2022", "2022 to 2023", "2023 to 2024"]


@pytest.mark.slow  # trains models
def test_retraining_follows_the_editors(db, add_publication, editable_themes):
    # Three kinds of publication the shipped examples and the rules know nothing particular of.
    new = {
        "outturn": add_publication(SECTION_251.format("2024 to 2025"), status="new", publisher="DfE"),
        "hearings": add_publication(HEARING_LIST.format("week 48"), status="new", publisher="HMCTS"),
        "notes": add_publication(QA_NOTE.format("nine"), status="new", publisher="SESLIP"),
    }
    classify_publications(db)
    before = {name: row(db, i) for name, i in new.items()}
    assert "finance" not in json.loads(before["outturn"]["themes"])

    # The editors tag section 251 returns as finance, reject the hearing lists, accept the notes.
    for year in YEARS:
        edit(db, add_publication(SECTION_251.format(year), status="new", publisher="DfE"),
             "add_theme", "finance")
    for week in range(1, 9):
        hearings = add_publication(HEARING_LIST.format(f"week {week}"), status="new", publisher="HMCTS")
        edit(db, hearings, "add_theme", "send")
        edit(db, hearings, "set_status", "rejected")
    for number in ("one", "two", "three", "four", "five", "six", "seven", "eight"):
        note = add_publication(QA_NOTE.format(number), status="new", publisher="SESLIP")
        edit(db, note, "add_theme", "inspection")
        edit(db, note, "set_status", "accepted")

    from tracker.cli.scores import scores_table
    from tracker.judgement.training import train

    trained = train(db)
    model, output = trained.model, [scores_table(trained.evaluation)]
    after = {name: row(db, i) for name, i in new.items()}
    assert "finance" in json.loads(after["outturn"]["themes"])
    assert after["hearings"]["candidate_score"] < before["hearings"]["candidate_score"] - 0.1
    assert after["notes"]["candidate_score"] > before["notes"]["candidate_score"] + 0.1
    assert {r["model_version"] for r in after.values()} == {model.version}
    # why names the words the editors' examples taught it
    taught = set(SECTION_251.lower().replace(":", "").split())
    terms = json.loads(after["outturn"]["why"])["terms"]["finance"]
    assert terms and all(set(term.split()) <= taught for term in terms)
    assert "Candidate ROC-AUC" in output[0] and "| finance |" in output[0]
    assert latest_model(db).version == model.version


@pytest.mark.slow  # trains models
def test_retraining_never_touches_statuses_or_editor_set_themes(db, add_publication, editable_themes):
    ids = [add_publication(f"Kinship care support guide part {n}", status="new") for n in range(12)]
    edit(db, ids[0], "set_status", "accepted")
    edit(db, ids[1], "set_status", "rejected")
    edit(db, ids[2], "add_theme", "adoption")  # still new, but its themes are the editor's now
    edit(db, ids[3], "remove_theme", "kinship")
    for i in ids[4:8]:
        edit(db, i, "set_status", "accepted")
    for i in ids[8:]:
        edit(db, i, "set_status", "rejected")
    kept = ("status", "themes", "themes_by_editor", "reviewed_at")
    before = {i: {k: row(db, i)[k] for k in kept} for i in ids}

    from tracker.judgement.training import train

    train(db)
    assert {i: {k: row(db, i)[k] for k in kept} for i in ids} == before
    assert json.loads(row(db, ids[2])["themes"]) == ["adoption"]
    assert row(db, ids[2])["candidate_score"] is not None  # re-scored all the same


def test_an_editor_s_themes_win_over_a_score_computed_before_them(db, add_publication, theme_set):
    publication = add_publication("Kinship care strategy", status="new")
    db.execute("update publications set themes = '[\"finance\"]', themes_by_editor = 1 where id = ?",
               [publication])
    classify_publications(db, [publication], classifier=Classifier(theme_set, None))
    assert json.loads(row(db, publication)["themes"]) == ["finance"]
    assert row(db, publication)["candidate_score"] == 0.5


def test_every_publication_is_scored_once_however_many_chunks_it_takes(db, add_publication, theme_set):
    from tracker.judgement.classify import CHUNK

    # Over two chunks' worth, a third of them already reviewed.
    ids = [add_publication(f"Kinship care report {n}", status="accepted" if n % 3 == 0 else "new")
           for n in range(2 * CHUNK + 5)]
    unreviewed = {i for n, i in enumerate(ids) if n % 3}
    classifier = Classifier(theme_set, None)
    assert classify_publications(db, classifier=classifier) == len(unreviewed)
    scored = {r["id"] for r in db.query("select id from publications where model_version is not null")}
    assert scored == unreviewed
    db.execute("update publications set model_version = null")
    assert classify_publications(db, ids, classifier=classifier) == len(ids)
    assert db.execute("select count(*) from publications where model_version is null").fetchone()[0] == 0


def test_a_model_round_trips_as_plain_arrays(theme_set):
    from tracker.judgement.examples import examples_from_records
    from tracker.judgement.fitting import fit_model

    records = [{"title": f"Foster carers allowance update {n}", "themes": ["fostering"],
                "candidate": True} for n in range(6)]
    records += [{"title": f"Retail sales, Great Britain: month {n}", "themes": [],
                 "candidate": False} for n in range(6)]
    model = fit_model(examples_from_records(records), theme_set)
    data = model.to_bytes()
    assert b"pickle" not in data
    again = Model.from_bytes(data)
    item = {"title": "Foster carers allowance rises"}
    assert Classifier(theme_set, again).predict(item) == Classifier(theme_set, model).predict(item)
    assert Classifier(theme_set, again).predict(item).themes == ["fostering"]


def test_batch_and_single_predictions_agree_on_the_shipped_labelled_file(theme_set):
    from tracker.judgement.examples import LABELLED_FILE, read_labelled
    from tracker.judgement.model import BATCH
    from tracker.judgement.provenance import shipped_model

    items = read_labelled(LABELLED_FILE)
    assert len(items) > BATCH  # batches of different sizes, a publication's row in each
    for classifier in (Classifier(theme_set, None), Classifier(theme_set, shipped_model(theme_set))):
        batch = classifier.predict_many(items)
        assert batch == [classifier.predict(item) for item in items]
        assert classifier.predict_many(items[::-1]) == batch[::-1]
        assert sum(bool(p.themes) for p in batch) > len(items) / 2
    assert sum(bool(p.why["terms"]["candidate"]) for p in batch) > len(items) / 2  # the model's


def test_an_editor_can_add_a_theme_in_themes_yaml(tmp_path, monkeypatch, theme_set):
    text = (ROOT / "themes.yaml").read_text()
    text += ("\n  housing:\n    label: Housing\n    network: Commissioners' Network\n"
             "    description: Where families and care leavers live.\n"
             "    include: [housing, temporary accommodation]\n")
    (tmp_path / "themes.yaml").write_text(text)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    edited = load_theme_set()
    assert edited.slugs[-1] == "housing"
    from tracker.judgement.provenance import shipped_model

    # The model knows nothing of the new theme yet: its phrases assign it meanwhile.
    prediction = Classifier(edited, shipped_model(edited)).predict(
        {"title": "Families in temporary accommodation: statistics"})
    assert "housing" in prediction.themes


# --- tracker classify ---------------------------------------------------------------------

def run_classify(lines: bytes, cache, timeout=120):
    env = {**os.environ, "TRACKER_CACHE": str(cache)}
    result = subprocess.run([str(TRACKER), "classify"], input=lines, capture_output=True,
                            env=env, timeout=timeout, cwd="/")
    return result


def test_classify_cli_survives_bad_input_and_keeps_order(cache):
    lines = [
        json.dumps({"title": "Kinship care strategy", "publisher": "DfE", "url": "u1", "extra": 7}),
        "{not json",
        json.dumps({"summary": "no title here"}),
        json.dumps({"title": "   "}),
        json.dumps({"title": "Fostering allowances 2025", "summary": "x" * 100_000}),
        json.dumps({"title": "<b>Adoption</b> support fund &amp; <script>evil()</script>"}),
        json.dumps({"title": "Cynllun gofal plant maeth: canllawiau newydd", "publisher": "Llyw.Cymru"}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"title": 42}),
        "[" * 100_000,
        json.dumps({"title": "Youth justice statistics: 2023 to 2024", "summary": None}),
    ]
    data = ("\n".join(lines) + "\n").encode() + b"\xff\xfe broken bytes\n"
    result = run_classify(data, cache)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(out) == len(lines) + 1
    assert out[0]["themes"] == ["kinship"] and out[0]["extra"] == 7 and out[0]["url"] == "u1"
    assert 0 <= out[0]["candidate_score"] <= 1
    errors = {i for i, o in enumerate(out) if "error" in o}
    assert errors == {1, 2, 3, 7, 8, 9, 10, 12}
    assert "line 2" in out[1]["error"] and out[2]["summary"] == "no title here"
    assert "fostering" in out[4]["themes"] and len(out[4]["summary"]) == 100_000
    assert "adoption" in out[5]["themes"] and out[5]["title"].startswith("<b>")
    assert out[6]["themes"] == [] or isinstance(out[6]["themes"], list)
    assert out[6]["candidate_score"] < out[0]["candidate_score"]
    assert "youth_justice" in out[11]["themes"]


def test_classify_cli_answers_each_line_as_it_arrives(cache):
    """Lines are scored in batches of those that have arrived: a caller that waits for each
    answer before sending the next line must still get it."""
    process = subprocess.Popen([str(TRACKER), "classify"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, env={**os.environ, "TRACKER_CACHE": str(cache)},
                               cwd="/")
    try:
        for title in ("Kinship care strategy", "Adoption support fund", "Youth justice statistics"):
            process.stdin.write(json.dumps({"title": title}).encode() + b"\n")
            process.stdin.flush()
            assert select.select([process.stdout], [], [], 120)[0], f"no answer for {title!r}"
            answer = json.loads(process.stdout.readline())
            assert answer["title"] == title and answer["themes"]
    finally:
        process.stdin.close()
        assert process.wait(timeout=60) == 0


@pytest.mark.slow  # trains the shipped model in a real process
def test_classify_cli_trains_once_then_reuses_its_cache(tmp_path):
    cache = tmp_path / "empty-cache"
    first = run_classify(b'{"title": "Kinship care strategy"}\n', cache)
    cached = list(cache.glob("model-*.npz")) if cache.exists() else []
    from tracker.judgement.examples import LABELLED_FILE

    assert len(cached) == (1 if LABELLED_FILE.exists() else 0)
    second = run_classify(b'{"title": "Kinship care strategy"}\n', cache)
    assert first.stdout == second.stdout and first.returncode == second.returncode == 0


# --- poll integration ---------------------------------------------------------------------

def test_stored_publications_get_themes_and_a_score(db, make_source):
    source = make_source(id="kinship-news", publisher="Kinship", themes=["kinship"])
    sync_sources(db, [source])
    entries = [
        Entry(url=f"https://kinship.example/{n}", url_key=url_key(f"https://kinship.example/{n}"),
              title=title, summary="", published="2025-03-27", date_source="feed")
        for n, title in enumerate(["Raised by Relatives: the experiences of Black and Asian "
                                   "kinship carers", "Our spring fundraising quiz night"])
    ]
    record = FetchRecord(started=datetime(2025, 3, 28, tzinfo=timezone.utc), duration_ms=5, status=200)
    stored = save_fetch(db, source, record, entries)
    assert classify_publications(db, stored.new_ids) == 2
    report, quiz = (row(db, i) for i in stored.new_ids)
    assert "kinship" in json.loads(report["themes"])
    # The source's default theme stays, now and after a re-score.
    assert json.loads(quiz["themes"]) == ["kinship"]
    classify_publications(db)
    assert json.loads(row(db, stored.new_ids[1])["themes"]) == ["kinship"]
    assert report["candidate_score"] > quiz["candidate_score"]
    assert report["model_version"] and json.loads(report["why"])["rules"]["kinship"]
    assert report["status"] == "new"


# --- the other commands -------------------------------------------------------------------

def test_train_and_evaluate_refuse_a_missing_file_with_exit_2(tmp_path):
    result = CliRunner().invoke(cli.cli, ["train", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "tracker poll" in result.output
    result = CliRunner().invoke(cli.cli, ["evaluate", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_evaluate_cross_validates_a_labelled_file(tmp_path):
    records = []
    for n in range(10):
        records.append({"title": f"Kinship carers survey wave {n}", "themes": ["kinship"], "candidate": True})
        records.append({"title": f"Apprenticeship funding bulletin {n}", "themes": [], "candidate": False})
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = CliRunner().invoke(cli.cli, ["evaluate", str(path), "--cross-validate"])
    assert result.exit_code == 0, result.output
    assert "| kinship | 10 | 1.00 | 1.00 | 1.00 |" in result.output
    assert "Candidate ROC-AUC: 1.000" in result.output


def test_poll_classifies_what_it_stores_and_loads_nothing_heavy(tmp_path, db_path, feed_server, cache):
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({"sources": [{
        "id": "ofsted-activity", "publisher": "Ofsted", "type": "feed",
        "url": feed_server.url("/feeds/govuk-org.atom")}]}))
    # A real `tracker poll`, in a process of its own, saying which heavy modules it loaded.
    probe = ("import sys; from tracker.cli import cli\n"
             f"cli(['poll', '--sources', {str(sources)!r}, '--db', {str(db_path)!r}], standalone_mode=False)\n"
             "print(sorted(m for m in ('sklearn', 'tracker.judgement.classify') if m in sys.modules))")
    env = {**os.environ, "TRACKER_CACHE": str(cache)}
    run_classify(b'{"title": "warm the cache"}\n', cache)
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                           timeout=300, cwd="/")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("['tracker.judgement.classify']")  # scored, no scikit-learn
    from tracker.store import open_database

    db = open_database(db_path)
    rows = db.execute_returning_dicts("select * from publications order by id")
    assert len(rows) == 4 and all(r["model_version"].startswith("shipped-") for r in rows)
    assert all(0 <= r["candidate_score"] <= 1 and json.loads(r["why"])["model"] for r in rows)
    by_title = {r["title"]: json.loads(r["themes"]) for r in rows}
    assert "inspection" in by_title["Social care common inspection framework (SCCIF): children's homes"]
    again = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                           timeout=300, cwd="/")
    assert again.returncode == 0 and again.stdout.strip().endswith("[]")  # nothing new
    db.close()


def test_evaluate_scores_a_file_with_a_model_that_never_saw_it(tmp_path):
    records = [
        {"title": "Kinship carers’ allowances: a survey of local authorities",
         "themes": ["kinship"], "candidate": True},
        {"title": "Special guardianship support: what kinship families need",
         "themes": ["kinship"], "candidate": True},
        {"title": "Youth justice statistics: 2024 to 2025", "themes": ["youth_justice"], "candidate": True},
        {"title": "Foster carer recruitment: the regional fostering hubs a year on",
         "themes": ["fostering"], "candidate": True},
        {"title": "Consumer price inflation, UK: September 2025", "publisher": "ONS",
         "themes": [], "candidate": False},
        {"title": "Apprenticeship funding rules: August 2025 to July 2026", "publisher": "DfE",
         "themes": [], "candidate": False},
        {"title": "Our autumn quiz night: raise money for children", "themes": [], "candidate": False},
    ]
    path = tmp_path / "held-out.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = CliRunner().invoke(cli.cli, ["evaluate", str(path)])
    assert result.exit_code == 0, result.output
    assert "scored by a model trained on" in result.output and "| kinship | 2 |" in result.output
    assert "Candidate ROC-AUC: 1.000" in result.output  # every listing outranks every routine item


@pytest.mark.slow  # trains a model
def test_train_from_the_cli_prints_the_figures_and_stores_a_model(db, db_path, add_publication):
    add_publication("Kinship care strategy", status="new")
    result = CliRunner().invoke(cli.cli, ["train", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert "| **macro** |" in result.output and "re-scored 1 unreviewed publications" in result.output
    assert db["models"].count == 1


def test_classify_rules_only_uses_no_model(cache):
    result = subprocess.run([str(TRACKER), "classify", "--rules-only"], input=b'{"title": "Adoption support fund"}\n',
                            capture_output=True, env={**os.environ, "TRACKER_CACHE": str(cache)}, timeout=60)
    out = json.loads(result.stdout)
    assert out["themes"] == ["adoption"] and out["why"]["model"] == "rules"


def test_a_stored_model_it_cannot_read_falls_back_to_the_shipped_one(db, add_publication):
    db["models"].insert({"version": "old-release", "trained_at": "2099-01-01T00:00:00Z",
                         "model": b"an older format"})
    publication = add_publication("Kinship care strategy", status="new")
    assert classify_publications(db) == 1
    assert row(db, publication)["model_version"].startswith("shipped-")


def test_re_scoring_everything_unreviewed_never_scores_a_judgment(db, make_source):
    """`tracker train` and the background retrainer re-score every unreviewed publication; the
    Open Justice Licence leaves out automated classification of judgments, which a caselaw
    source stores unscored. Re-scoring scored them (and a sources.yaml that stops polling
    case law still leaves its judgments unscored)."""
    feed = make_source(id="kinship-news", publisher="Kinship")
    case_law = make_source(id="case-law", publisher="the Family Court", type="caselaw",
                           url="https://caselaw.nationalarchives.gov.uk/atom.xml")
    sync_sources(db, [feed, case_law])
    record = FetchRecord(started=datetime(2025, 3, 28, tzinfo=timezone.utc), duration_ms=5, status=200)
    ids = {}
    for source, title in ((feed, "Kinship care strategy"), (case_law, "Re A (A Child) (Kinship Care)")):
        url = f"https://example.org/{source.id}"
        entry = Entry(url=url, url_key=url_key(url), title=title, summary="", published="2025-03-27",
                      date_source="feed")
        ids[source.id] = save_fetch(db, source, record, [entry]).new_ids[0]
    assert classify_publications(db) == 1
    assert row(db, ids["kinship-news"])["candidate_score"] is not None
    assert row(db, ids["case-law"])["candidate_score"] is None
    sync_sources(db, [feed])  # no longer configured: still a judgment
    classify_publications(db)
    assert row(db, ids["case-law"])["candidate_score"] is None
