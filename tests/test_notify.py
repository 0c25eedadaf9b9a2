"""tracker notify: the weekly draft by email, source alerts and saved searches by webhook, each
once; failures kept in words and retried. Real parts: an SMTP server (aiosmtpd) and an HTTP
server on 127.0.0.1, the real store, the real poll and Apprise."""

import base64
import email
import email.policy
import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from tracker.cli import cli
from tracker.dates import LONDON
from tracker.ingest.config import ConfigError, parse_config
from tracker.publish.digest import collect, line, render
from tracker.publish.messages import TOP_CANDIDATES, london_stamp
from tracker.publish.notify import fts_query, notify
from tracker.store.notify import save_search

ISSUE_EVE = datetime(2025, 4, 17, 16, 30, tzinfo=LONDON)  # the draft for the issue of Fri 18 April


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """An SMTP server on 127.0.0.1 keeping every message it receives."""

    def __init__(self, port: int):
        self.messages: list[email.message.EmailMessage] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def stop(self):
        self.controller.stop()


class Hooks(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 keeping each POST's JSON body and headers."""

    def __init__(self):
        self.received: list[dict] = []
        self.headers: list[dict] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hooks.received.append(json.loads(body))
                hooks.headers.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server_address[1]}/hook"

    def titles(self, prefix: str = "") -> list[str]:
        return [body["title"] for body in self.received if body["title"].startswith(prefix)]


@pytest.fixture
def mailbox():
    box = Mailbox(free_port())
    yield box
    box.stop()


@pytest.fixture
def hooks():
    server = Hooks()
    yield server
    server.shutdown()
    server.server_close()


def settings_for(*urls, **extra):
    return parse_config({"settings": {"notify": list(urls), **extra}, "sources": []}).settings


def mail_url(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=tracker@example.org&to=editors@example.org&mode=insecure"


@pytest.fixture
def week(db, add_publication):
    """The issue of 18 April 2025: two accepted, two candidates, one rejected."""
    add_publication(themes=["family_justice"])
    add_publication("Kinship & care: what works", url="https://frg.org.uk/what-works/", publisher="FRG",
                    published="2025-04-02")
    add_publication("Kinship carers survey", url="https://kinship.org.uk/survey", publisher="Kinship",
                    status="new", published=None, first_seen="2025-04-16T10:00:00Z", candidate_score=0.4)
    add_publication("Fostering better services", url="https://www.lgo.org.uk/fostering", publisher="the Ombudsman",
                    status="new", published="2025-04-15", first_seen="2025-04-15T08:00:00Z", candidate_score=0.9)
    add_publication("Teacher pay award", publisher="DfE", status="rejected", published="2025-04-10",
                    first_seen="2025-04-16T10:00:00Z")
    return db


def test_the_weekly_draft_arrives_once_by_email_as_the_digest_in_text_and_html(week, mailbox):
    settings = settings_for(mail_url(mailbox.controller.port), workspace_url="https://tracker.example.org/")
    result = notify(week, settings, now=ISSUE_EVE.astimezone(timezone.utc))
    assert result.sent == 1 and not result.failed
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert message["Subject"].startswith("Draft for the issue of 18 April 2025: 2 on the list")
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    markup = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    print(plain)  # quoted in the closing note
    digest = collect(week, ISSUE_EVE.date() + timedelta(days=1), candidates=TOP_CANDIDATES)
    assert [item.title for item in digest.accepted] == [
        "Family Court Statistics Quarterly: October to December 2024", "Kinship & care: what works"]
    for item in digest.accepted + digest.candidates:
        assert line(item) in plain
    assert render(digest, "html").rstrip() in markup
    assert "Teacher pay" not in plain + markup
    for item in digest.candidates:
        assert f'href="https://tracker.example.org/-/triage#card-{item.id}"' in markup
        assert f"{item.title}: https://tracker.example.org/-/triage#card-{item.id}" in plain
    assert "This is the first draft" in plain

    again = notify(week, settings, now=ISSUE_EVE.astimezone(timezone.utc) + timedelta(hours=1))
    assert again.queued == [] and again.sent == 0
    assert len(mailbox.messages) == 1


def test_no_draft_before_its_day_and_time(week, hooks):
    settings = settings_for(hooks.url, draft_time="17:00")
    assert notify(week, settings, now=ISSUE_EVE.astimezone(timezone.utc)).queued == []
    assert hooks.received == []
    notify(week, settings, now=(ISSUE_EVE + timedelta(minutes=30)).astimezone(timezone.utc))
    assert hooks.titles("Draft") == ["Draft for the issue of 18 April 2025: 2 on the list, 2 top candidates"]


def test_a_source_failing_three_polls_alerts_once_and_its_recovery_once(tmp_path, db_path, feed_server,
                                                                        feeds_dir, hooks):
    feed_server.serve("/feed.atom", b"gone", status=404)
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({
        "settings": {"notify": [hooks.url]},
        "sources": [{"id": "dfe", "publisher": "DfE", "type": "feed", "url": feed_server.url("/feed.atom")}],
    }))

    def run(command):
        result = CliRunner().invoke(cli, [command, "--sources", str(sources), "--db", str(db_path)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    alerts = []
    for _ in range(4):
        run("poll")
        run("notify")
        alerts.append(len(hooks.titles("Source")))
    assert alerts == [0, 0, 1, 1]
    failing = [body for body in hooks.received if body["title"].startswith("Source")][0]
    assert failing["title"] == "Source dfe is failing: the server answered 404 Not Found"
    assert "has failed its last 3 polls" in failing["message"]

    feed_server.serve_file("/feed.atom", "govuk-org.atom")
    run("poll")
    output = run("notify")
    assert "due: Source dfe has recovered" in output
    assert output.endswith("\n1 new message due, 1 delivery sent, 0 failed\n")
    assert hooks.titles("Source") == [failing["title"], "Source dfe has recovered"]
    run("poll")
    run("notify")
    assert len(hooks.titles("Source")) == 2


def test_a_saved_search_fires_once_for_a_matching_publication_and_not_for_others(db, add_publication, hooks):
    saved = datetime(2025, 4, 14, 9, tzinfo=timezone.utc)
    save_search(db, "alice", "Pathfinder", "pathfinder", frequency="at_once", now=saved)
    add_publication("Families First Partnership pathfinder: an early look", status="new", published=None,
                    first_seen="2025-04-10T09:00:00Z")  # before the search was saved
    wanted = add_publication("Family help Pathfinders: evaluation", status="new", published=None,
                             first_seen="2025-04-15T09:00:00Z")
    add_publication("Teacher pay award", status="new", published=None, first_seen="2025-04-15T09:00:00Z")
    add_publication("Pathfinder rejected", status="rejected", published=None, first_seen="2025-04-15T09:00:00Z")
    settings = settings_for(hooks.url)
    now = datetime(2025, 4, 15, 10, tzinfo=timezone.utc)
    notify(db, settings, now=now)
    assert hooks.titles() == ["Saved search Pathfinder: Family help Pathfinders: evaluation"]
    assert "On 15 April MoJ published Family help Pathfinders: evaluation" in hooks.received[0]["message"]
    hits = [row["publication_id"] for row in db["saved_search_hits"].rows]
    assert hits == [wanted]
    notify(db, settings, now=now + timedelta(hours=1))
    assert len(hooks.received) == 1


def test_daily_searches_are_gathered_into_one_message_at_draft_time(db, add_publication, hooks):
    saved = datetime(2025, 4, 14, 9, tzinfo=timezone.utc)
    save_search(db, "alice", "Kinship", "kinship allowance", now=saved)
    save_search(db, "alice", "Never", "allowance", frequency="never", now=saved)
    add_publication("Kinship allowance pilot", status="new", published=None, first_seen="2025-04-15T09:00:00Z")
    add_publication("Kinship care guidance", status="new", published=None, first_seen="2025-04-15T09:00:00Z")
    settings = settings_for(hooks.url, draft_time="16:00")
    morning = datetime(2025, 4, 15, 9, 30, tzinfo=timezone.utc)
    notify(db, settings, now=morning)
    assert hooks.received == []
    notify(db, settings, now=morning + timedelta(hours=7))
    assert hooks.titles() == ["Saved searches, 15 April 2025: 1 new matches"]
    assert "Kinship allowance pilot" in hooks.received[0]["message"]
    assert "Kinship care guidance" not in hooks.received[0]["message"]
    notify(db, settings, now=morning + timedelta(hours=8))
    assert len(hooks.received) == 1


def test_an_unreachable_mail_server_is_recorded_in_words_and_retried_later(week):
    port = free_port()  # nothing listens there yet
    settings = settings_for(mail_url(port))
    now = ISSUE_EVE.astimezone(timezone.utc)
    first = notify(week, settings, now=now)
    assert first.sent == 0 and len(first.failed) == 1
    delivery = next(week["notification_deliveries"].rows)
    assert delivery["status"] == "failed" and delivery["attempts"] == 1
    assert "connection" in delivery["last_error"].lower()
    assert delivery["next_attempt"] == "2025-04-17T15:35:00Z"  # five minutes later

    early = notify(week, settings, now=now + timedelta(minutes=2))
    assert early.sent == 0 and early.failed == []
    box = Mailbox(port)
    try:
        later = notify(week, settings, now=now + timedelta(minutes=6))
        assert later.sent == 1 and later.queued == []
        assert len(box.messages) == 1 and box.messages[0]["Subject"].startswith("Draft for the issue")
    finally:
        box.stop()
    delivery = next(week["notification_deliveries"].rows)
    assert delivery["status"] == "sent" and delivery["attempts"] == 2


def test_a_secret_comes_from_the_environment_and_is_never_stored(week, hooks):
    url = hooks.url.replace("json://", "json://editor:$HOOK_SECRET@")
    settings = settings_for(url)
    now = ISSUE_EVE.astimezone(timezone.utc)
    missing = notify(week, settings, now=now, environ={})
    assert "the environment has no $HOOK_SECRET" in missing.failed[0]
    notify(week, settings, now=now + timedelta(minutes=10), environ={"HOOK_SECRET": "s3cret-Value"})
    assert len(hooks.received) == 1
    assert hooks.headers[0]["Authorization"] == "Basic " + base64.b64encode(b"editor:s3cret-Value").decode()
    stored = "\n".join(week.iterdump())
    assert "s3cret-Value" not in stored and "$HOOK_SECRET" not in stored


@pytest.mark.parametrize("url", ["foo://bar", "mailto://user:hunter2@", "not a url"])
def test_a_malformed_apprise_url_is_one_line_and_exit_2(tmp_path, db_path, url):
    with pytest.raises(ConfigError):
        settings_for(url)
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({"settings": {"notify": [url]}, "sources": []}))
    result = CliRunner().invoke(cli, ["notify", "--sources", str(sources), "--db", str(db_path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "settings.notify #1" in result.output
    assert "hunter2" not in result.output


def test_a_destination_all_in_the_environment_is_checked_by_its_scheme_until_set(monkeypatch):
    monkeypatch.delenv("TEAMS_WORKFLOW", raising=False)
    assert settings_for("workflows://$TEAMS_WORKFLOW", "slack://${SLACK_WEBHOOK}").notify == (
        "workflows://$TEAMS_WORKFLOW", "slack://${SLACK_WEBHOOK}")
    with pytest.raises(ConfigError, match="nosuch://"):
        settings_for("nosuch://$TEAMS_WORKFLOW")
    monkeypatch.setenv("TEAMS_WORKFLOW", "not/enough")
    with pytest.raises(ConfigError, match=r"workflows://\.\.\.\)"):
        settings_for("workflows://$TEAMS_WORKFLOW")


def test_notify_without_destinations_is_one_line_and_exit_2(tmp_path, db):
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: []\n")
    result = CliRunner().invoke(cli, ["notify", "--sources", str(sources), "--db", str(tmp_path / "tracker.db")])
    assert result.exit_code == 2 and "settings.notify lists no Apprise URLs" in result.output


def test_search_words_never_become_fts_operators():
    assert fts_query('kinship allowance') == '"kinship" "allowance"'
    assert fts_query('"special guardianship" OR NEAR(') == '"special guardianship" "OR" "NEAR("'


@pytest.mark.asyncio
async def test_editors_save_edit_and_remove_searches_in_the_workspace_audited(workspace_db, editor_cookies):
    from sqlite_utils import Database

    from tracker.web.serve import make_datasette

    ds = make_datasette(workspace_db, secret="test-secret")
    anonymous = await ds.client.get("/-/searches")
    assert anonymous.status_code == 302 and "/-/login" in anonymous.headers["location"]
    cookies = await editor_cookies(ds)
    table = await ds.client.get("/newsroom/publications?_search=kinship+allowance&_theme=kinship", cookies=cookies)
    assert table.status_code == 200
    assert '/-/searches?q=kinship+allowance&amp;theme=kinship">Save this search' in table.text
    assert "Save this search" not in (await ds.client.get("/newsroom/publications?_search=kinship")).text
    page = await ds.client.get("/-/searches?q=kinship+allowance&theme=kinship", cookies=cookies)
    assert page.status_code == 200
    assert 'value="kinship allowance"' in page.text and '<option value="kinship" selected>' in page.text

    async def post(**data):
        """The searches page the write sends the editor back to, with its message."""
        response = await ds.client.post("/-/searches", cookies=cookies,
                                        data={**data, "csrftoken": cookies["ds_csrftoken"]})
        assert response.status_code == 302 and response.headers["location"] == "/-/searches"
        page = await ds.client.get("/-/searches", cookies={**cookies, **response.cookies})
        return page.text

    assert '<p class="message-info">Search saved</p>' in await post(
        action="save", name="Kinship", q="kinship allowance", theme="kinship", frequency="at_once")
    saved = list(Database(workspace_db)["saved_searches"].rows)
    assert [(s["name"], s["query"], s["theme"], s["frequency"], s["editor"]) for s in saved] == [
        ("Kinship", "kinship allowance", "kinship", "at_once", "alice")]
    assert '<p class="message-error">' in await post(action="save", name="", q="x", frequency="daily")
    assert '<p class="message-error">Choose at once, daily or never</p>' in await post(
        action="save", name="Bad", q="x", frequency="hourly")
    # a link cannot put words on the page
    assert "Send us your password" not in (await ds.client.get(
        "/-/searches?message=Send+us+your+password&ok=1", cookies=cookies)).text
    await post(action="save", id=str(saved[0]["id"]), name="Kinship", q="kinship", frequency="daily")
    listing = await ds.client.get("/-/searches", cookies=cookies)
    assert "told in the daily message" in listing.text
    await post(action="remove", id=str(saved[0]["id"]))
    db = Database(workspace_db)
    assert db["saved_searches"].count == 0
    actions = [(row["editor"], row["action"]) for row in db.query(
        "select * from audit_log where action like '%search' order by id")]
    assert actions == [("alice", "save_search"), ("alice", "edit_search"), ("alice", "remove_search")]


def test_two_processes_at_once_send_each_message_once(week, db_path, hooks):
    from tracker.store import open_database

    settings = settings_for(hooks.url)
    now = ISSUE_EVE.astimezone(timezone.utc)
    connections = [open_database(db_path) for _ in range(4)]
    start = threading.Barrier(len(connections))

    def run(db):
        start.wait()
        notify(db, settings, now=now)

    threads = [threading.Thread(target=run, args=(db,)) for db in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert hooks.titles("Draft") == ["Draft for the issue of 18 April 2025: 2 on the list, 2 top candidates"]
    assert week["notifications"].count == 1


def test_serves_scheduler_notifies_after_its_poll(week, db_path, hooks):
    from tracker.ingest.config import Config
    from tracker.web.serve import Scheduler

    settings = settings_for(hooks.url, draft_day=datetime.now(LONDON).strftime("%A").lower(), draft_time="00:00",
                            issue_day=(datetime.now(LONDON) + timedelta(days=1)).strftime("%A").lower())
    Scheduler(db_path, Config(settings=settings, sources=())).notify(week)
    assert len(hooks.titles("Draft for the issue of")) == 1


def test_an_html_source_whose_selector_matches_nothing_says_so_once(tmp_path, db_path, feed_server, hooks):
    feed_server.serve("/news", "<html><body><p>We have moved our news.</p></body></html>",
                      headers={"Content-Type": "text/html; charset=utf-8"})
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({
        "settings": {"notify": [hooks.url], "alert_after": 2},
        "sources": [{"id": "kinship-news", "publisher": "Kinship", "type": "html", "url": feed_server.url("/news"),
                     "item": "article.news-card", "title": "h3 a", "link": "h3 a"}],
    }))
    for _ in range(3):
        for command in ("poll", "notify"):
            result = CliRunner().invoke(cli, [command, "--sources", str(sources), "--db", str(db_path)])
            assert result.exit_code == 0, result.output
    [alert] = [body for body in hooks.received if body["title"].startswith("Source")]
    assert "has failed its last 2 polls" in alert["message"]
    assert "matched nothing" in alert["message"] and "check the source's item selector" in alert["message"]


def test_a_silent_source_alerts_once_and_again_when_it_announces_something(db, hooks):
    db["sources"].insert({"id": "ofsted", "publisher": "Ofsted", "type": "feed", "url": "https://example.org/f",
                          "configured": 1, "consecutive_errors": 0, "last_success": "2025-04-17T08:00:00Z",
                          "last_new": "2025-02-01T08:00:00Z"})
    settings = settings_for(hooks.url, silent_after="42d")
    now = datetime(2025, 4, 17, 9, tzinfo=timezone.utc)
    notify(db, settings, now=now)
    notify(db, settings, now=now + timedelta(hours=1))
    assert hooks.titles() == ["Source ofsted has been silent for 42 days"]
    db["sources"].update("ofsted", {"last_new": "2025-04-17T10:00:00Z"})
    notify(db, settings, now=now + timedelta(hours=2))
    assert hooks.titles()[1:] == ["Source ofsted has recovered"]


def test_the_next_draft_says_what_changed_since_the_last(week, hooks):
    settings = settings_for(hooks.url)
    notify(week, settings, now=ISSUE_EVE.astimezone(timezone.utc))
    week.execute("update publications set status = 'accepted', reviewed_at = '2025-04-20T09:00:00Z' "
                 "where title = 'Fostering better services'")
    week.execute("update publications set status = 'rejected', reviewed_at = '2025-04-20T09:05:00Z' "
                 "where title = 'Kinship carers survey'")
    notify(week, settings, now=(ISSUE_EVE + timedelta(days=7)).astimezone(timezone.utc))
    assert hooks.titles("Draft") == [
        "Draft for the issue of 18 April 2025: 2 on the list, 2 top candidates",
        "Draft for the issue of 25 April 2025: 3 on the list, 0 top candidates"]
    assert "Since 17 April 2025 16:30: 1 accepted, 1 rejected, 0 new publications found" in \
        hooks.received[1]["message"]


def test_a_failed_delivery_keeps_the_secret_out_of_the_reason_the_database_and_the_log(week, caplog):
    settings = settings_for(f"json://editor:$HOOK_SECRET@127.0.0.1:{free_port()}/hook")
    with caplog.at_level("DEBUG"):
        result = notify(week, settings, now=ISSUE_EVE.astimezone(timezone.utc),
                        environ={"HOOK_SECRET": "s3cret-Value"})
    assert len(result.failed) == 1
    reason = next(week["notification_deliveries"].rows)["last_error"]
    assert reason and "s3cret-Value" not in reason + result.failed[0]
    assert "s3cret-Value" not in "\n".join(week.iterdump())
    assert "s3cret-Value" not in caplog.text and "not delivered" in caplog.text


def test_messages_say_stored_times_in_london_time():
    assert london_stamp("2026-11-30T22:56:27Z") == "30 November 2026 22:56"
    assert london_stamp("2026-07-01T22:56:27Z") == "1 July 2026 23:56"  # BST
    assert london_stamp(None) == "an unknown time"
