"""An editor in a real browser: Debian's chromium driven by Playwright against `tracker serve`.

Screenshots go to tests/artefacts/ (git-ignored) for people to look at.
"""

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parent / "artefacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
KINSHIP = "Kinship care statutory guidance for local authorities"
FOSTERING = "Fostering in England 2025 to 2026"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="needs Debian's chromium (apt-get install chromium)")]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def workspace(workspace_db, serve_process):
    _, url = serve_process("--db", str(workspace_db), "--no-poll")
    return url


def log_in(page, url, password):
    page.goto(f"{url}-/login")
    page.fill("#username", "alice")
    page.fill("#password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{url}-/triage")


def test_editor_logs_in_triages_and_finds_it_accepted(browser, workspace, workspace_db, editor_password):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, workspace, editor_password)
    page.screenshot(path=str(ARTEFACTS / "triage.png"), full_page=True)

    card = page.locator(".candidate", has_text=KINSHIP)
    card.locator(".add-theme select").select_option("workforce")
    card.locator(".add-theme button").click()
    card.locator(".chip", has_text="Workforce").wait_for()
    assert card.locator(".add-theme select option[value=workforce]").count() == 0
    # The chip the page built for the added theme removes it as a served one does.
    assert card.locator(".chip", has_text="Workforce").locator("button").get_attribute(
        "aria-label") == "Remove Children's social care workforce"
    card.locator(".chip", has_text="Workforce").locator("button").click()
    card.locator(".chip", has_text="Workforce").wait_for(state="detached")
    assert card.locator(".add-theme select option[value=workforce]").count() == 1
    card.locator(".chip", has_text="Kinship").locator("button").click()
    card.locator(".chip", has_text="Kinship").wait_for(state="detached")
    card.get_by_role("button", name="Accept").click()
    card.locator(".decision", has_text="Accepted").wait_for()
    page.locator(".candidate", has_text=FOSTERING).get_by_role("button", name="Reject").click()
    page.locator("#triage-status", has_text="Rejected").wait_for()
    page.screenshot(path=str(ARTEFACTS / "triage-after.png"), full_page=True)

    page.goto(f"{workspace}newsroom/recently_accepted")
    assert page.locator("table.rows-and-columns", has_text=KINSHIP).count() == 1
    assert FOSTERING not in page.content()
    page.screenshot(path=str(ARTEFACTS / "recently-accepted.png"), full_page=True)
    assert errors == []

    rows = list(Database(workspace_db).query(
        "select action, new_value, editor from audit_log order by id"))
    assert [(r["action"], r["editor"]) for r in rows] == [
        ("add_theme", "alice"), ("remove_theme", "alice"), ("remove_theme", "alice"),
        ("set_status", "alice"), ("set_status", "alice"),
    ]
    assert [r["new_value"] for r in rows[3:]] == ["accepted", "rejected"]

    page.goto(f"{workspace}-/dashboard")
    assert page.locator("svg.chart rect.bar").count() >= 4
    page.screenshot(path=str(ARTEFACTS / "dashboard.png"), full_page=True)


def test_triage_works_without_javascript(browser, workspace, workspace_db, editor_password):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, workspace, editor_password)
    page.locator(".candidate", has_text=FOSTERING).get_by_role("button", name="Accept").click()
    page.wait_for_url(f"{workspace}-/triage")
    assert page.locator(".message-info", has_text="Status saved").count() == 1
    assert page.locator(".candidate", has_text=FOSTERING).count() == 0
    status = Database(workspace_db).execute(
        "select status from publications where title = ?", [FOSTERING]).fetchone()[0]
    assert status == "accepted"
    context.close()


def test_anonymous_visitor_sees_dashboard_and_search(browser, workspace):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{workspace}-/dashboard")
    assert page.locator("svg.chart").count() == 2
    page.goto(f"{workspace}newsroom/publications")
    page.fill("#_search", "fostering")
    page.keyboard.press("Enter")
    page.wait_for_url("**_search=fostering**")
    assert page.locator("table.rows-and-columns tbody tr").count() == 1
    page.screenshot(path=str(ARTEFACTS / "search.png"), full_page=True)
    page.goto(f"{workspace}-/triage")
    page.wait_for_url(f"{workspace}-/login?next=/-/triage")


def test_editor_works_under_a_base_url(browser, workspace_db, serve_process, editor_password):
    """Behind a proxy at /tracker/: log in, accept with the page's script, copy a digest; every
    style sheet and script the pages ask for is found."""
    from datetime import date

    from tracker.publish.digest import save_digest
    from tracker.store import open_database

    with open_database(workspace_db) as db:
        save_digest(db, date(2026, 11, 27))
    _, url = serve_process("--db", str(workspace_db), "--no-poll", "--base-url", "/tracker/")
    assert url.endswith("/tracker/")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, assets = [], {}
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: assets.update({r.url: r.status}) if "/-/static" in r.url else None)

    page.goto(f"{url}-/triage")
    page.wait_for_url(f"{url}-/login?next=/tracker/-/triage")
    page.fill("#username", "alice")
    page.fill("#password", editor_password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{url}-/triage")
    page.locator(".candidate", has_text=KINSHIP).get_by_role("button", name="Accept").click()
    page.locator(".candidate", has_text=KINSHIP).locator(".decision", has_text="Accepted").wait_for()
    status = Database(workspace_db).execute(
        "select status from publications where title = ?", [KINSHIP]).fetchone()[0]
    assert status == "accepted"

    page.get_by_role("link", name="Digests").first.click()
    page.wait_for_url(f"{url}-/digest")
    page.get_by_role("link", name="Issue of 27 November 2026").click()
    page.wait_for_url(f"{url}-/digest/2026-11-27")
    page.get_by_role("button", name="Copy for the newsletter").click()
    page.locator("#copy-status", has_text="C").wait_for()  # "Copied." or "Selected: press Ctrl-C"
    page.screenshot(path=str(ARTEFACTS / "digest-base-url.png"), full_page=True)
    plugin_assets = {u.split("/-/static-plugins/tracker/")[1]: s for u, s in assets.items()
                     if "/tracker/-/static-plugins/tracker/" in u}
    assert plugin_assets == {"tracker.css": 200, "triage.js": 200, "digest.js": 200}
    assert [u for u, s in assets.items() if s != 200 or "/tracker/-/" not in u] == []
    assert errors == []


MISSED = b"""<!doctype html><html lang="en"><head><title>Toolkit</title>
<meta property="og:title" content="Kinship carers' toolkit for social workers">
<meta property="og:site_name" content="Kinship">
<meta property="article:published_time" content="2025-10-01T09:00:00+01:00">
</head><body><h1>Kinship carers' toolkit</h1></body></html>"""
WORKFORCE = "Children's social care workforce census 2026"
SEND = "Annual report on SEND inspections"
TEACHERS = "School teachers' pay award"


def test_the_friday_list_in_minutes(browser, workspace_db, serve_process, editor_password, feed_server):
    """An editor accepts three candidates (one by keyboard), edits a line's verb, adds a missed
    URL, undoes a rejection, marks the issue sent, and Copy puts exactly the list on the clipboard."""
    from datetime import datetime

    from tracker.dates import LONDON, MONTH_NAMES

    feed_server.serve("/toolkit", MISSED, headers={"Content-Type": "text/html; charset=utf-8"})
    with sqlite3.connect(workspace_db) as conn:  # the operator polls a source on that host
        conn.execute("insert into sources (id, publisher, type, url, configured) values "
                     "('local', 'Kinship', 'feed', ?, 1)", [feed_server.url("/feed.atom")])
    _, url = serve_process("--db", str(workspace_db), "--no-poll")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, url, editor_password)
    page.screenshot(path=str(ARTEFACTS / "friday-triage.png"), full_page=True)

    # The best candidate by keyboard: j to the first card, a to accept it.
    page.keyboard.press("j")
    assert KINSHIP in page.locator(".card.current h2").inner_text()
    first = page.locator(".candidate", has_text=KINSHIP)
    page.keyboard.press("a")
    first.locator(".decision", has_text="Accepted").wait_for()
    # The focus moves on to the next card still to decide.
    after = page.locator(".card.current")
    assert after.get_attribute("data-status") == "new" and KINSHIP not in after.locator("h2").inner_text()
    assert page.evaluate("document.activeElement.classList.contains('current')")
    for title in (WORKFORCE, SEND):
        card = page.locator(".candidate", has_text=title)
        card.get_by_role("button", name="Accept").click()
        card.locator(".decision", has_text="Accepted").wait_for()

    # The workforce census is a dataset: the newsletter says "released".
    card = page.locator(".candidate", has_text=WORKFORCE)
    card.locator("details.edit-line summary").click()
    card.locator("input[name=verb]").fill("released")
    card.locator(".preview", has_text=f"released {WORKFORCE}").wait_for()
    card.get_by_role("button", name="Save the line").click()
    page.locator("#triage-status", has_text="Line saved").wait_for()
    # ... and on the card itself, where the editor is looking.
    saved = card.locator(".card-status", has_text="Line saved: ")
    saved.wait_for()
    assert f"released {WORKFORCE}" in saved.inner_text()
    box = saved.bounding_box()
    assert box and 0 <= box["y"] < 900, box  # in view, not at the top of the page
    page.screenshot(path=str(ARTEFACTS / "friday-line-saved.png"))
    card.locator("details.edit-line summary").click()  # a verb of 500 characters: refused, said there
    card.locator("input[name=verb]").evaluate("input => { input.value = 'x'.repeat(500); }")
    card.get_by_role("button", name="Save the line").click()
    card.locator(".card-status.error-inline", has_text="Not saved").wait_for()
    card.locator("input[name=verb]").fill("released")
    card.locator("details.edit-line summary").click()

    # A rejection by mistake, undone.
    page.locator("details.tail > summary").click()
    tail_card = page.locator(".candidate", has_text=TEACHERS)
    tail_card.get_by_role("button", name="Reject").click()
    tail_card.locator(".decision", has_text="Rejected").wait_for()
    page.screenshot(path=str(ARTEFACTS / "friday-decided.png"), full_page=True)
    # Accepted and rejected differ by colour, border and words, each readable (WCAG AA).
    for card, label in ((first, "Accepted"), (tail_card, "Rejected")):
        colour, background = card.locator(".decision").evaluate(
            "e => [getComputedStyle(e).color, getComputedStyle(e.closest('.card')).backgroundColor]")
        assert card.locator(".decision").inner_text() == label
        assert contrast(colour, background) >= 4.5, (label, colour, background)
    tail_card.get_by_role("button", name="Undo").click()
    page.locator("#triage-status", has_text="Back in triage").wait_for()
    page.get_by_role("button", name="Reject all shown").click()
    page.locator("#triage-status", has_text="Rejected 1 of 1 unlikely candidates").wait_for()
    tail_card.get_by_role("button", name="Undo").click()
    page.locator("#triage-status", has_text="Back in triage").wait_for()

    # A publication the sources missed, pasted as a URL and accepted for the list.
    page.locator("details.add-url > summary").click()
    page.fill("details.add-url input[name=url]", feed_server.url("/toolkit"))
    page.locator("details.add-url").get_by_role("button", name="Add").click()
    page.locator(".message-info", has_text="Added and accepted").wait_for()

    page.get_by_role("link", name="the issue of").click()
    asked = []

    def answer(dialog):  # Mark this issue sent asks first: once no, then yes
        asked.append(dialog.message)
        dialog.accept() if len(asked) > 1 else dialog.dismiss()

    page.on("dialog", answer)
    page.get_by_role("button", name="Mark this issue sent").click()
    page.wait_for_timeout(300)
    assert len(asked) == 1 and "Mark the issue of" in asked[0] and "4 lines" in asked[0]
    assert page.locator(".issue-state.draft").count() == 1  # dismissed: nothing sent
    page.get_by_role("button", name="Mark this issue sent").click()
    page.locator(".issue-state.sent").wait_for()
    assert page.locator(".issue-state.sent", has_text=" at ").count() == 1  # in words, not ISO
    page.get_by_role("button", name="Copy for the newsletter").click()
    page.locator("#copy-status", has_text="Copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    rich = page.evaluate("""async () => {
        const [item] = await navigator.clipboard.read();
        return await (await item.getType("text/html")).text();
    }""")
    page.screenshot(path=str(ARTEFACTS / "friday-digest-sent.png"), full_page=True)

    today = datetime.now(LONDON).date()
    on = f"On {today.day} {MONTH_NAMES[today.month - 1]}"
    assert copied.splitlines() == [
        f"{on} DfE published {KINSHIP}",
        f"{on} DfE released {WORKFORCE}",
        f"{on} Ofsted published {SEND}",
        "On 1 October 2025 Kinship published Kinship carers' toolkit for social workers",
    ]
    # The rich copy: the same lines, each title a link, and nothing else of the page.
    assert rich.count("<p>") == 4 and f'<a href="{feed_server.url("/toolkit")}">' in rich
    assert "New this week" not in rich and "Tools &amp; Templates" not in rich
    assert Database(workspace_db).execute(
        "select status from publications where title = ?", [TEACHERS]).fetchone()[0] == "new"
    # Sent by mistake: Reopen makes it a draft again.
    page.get_by_role("button", name="Reopen this issue").click()
    page.locator(".issue-state.draft").wait_for()
    assert Database(workspace_db).execute("select count(*) from digests where sent_at is not null").fetchone()[0] == 0
    assert errors == []
    context.close()


def contrast(*colours: str) -> float:
    """WCAG's contrast ratio of two CSS rgb() colours."""
    def luminance(css):
        channels = [int(part) / 255 for part in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted(map(luminance, colours), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_tables_read_at_1280_px(browser, workspace):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{workspace}newsroom/publications")
    title = page.locator("table.rows-and-columns td.col-title").first.bounding_box()
    assert title["x"] + title["width"] <= 1280  # the title is on screen without scrolling
    # A theme's label wraps between its words, never inside one ("child protectio / n", as
    # Datasette's break-all for facet values had it).
    facet_value = page.locator(".facet-info li", has_text="Kinship care").first
    assert facet_value.evaluate("li => getComputedStyle(li).wordBreak") == "normal"
    page.screenshot(path=str(ARTEFACTS / "publications-1280.png"))


def test_publications_and_saved_searches_read_at_1280_px(browser, workspace, editor_password):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{workspace}newsroom/publications?_search=kinship&_facet=status")
    width = page.evaluate("document.querySelector('table.rows-and-columns').getBoundingClientRect().width")
    page.screenshot(path=str(ARTEFACTS / "publications-columns-1280.png"), full_page=True)
    assert width <= 1280, width  # was 3,759 px with every working column
    shown = page.evaluate("""Array.from(document.querySelectorAll('table.rows-and-columns th'))
        .filter(th => th.offsetParent !== null).map(th => th.className)""")
    assert {"col-title", "col-publisher", "col-published", "col-status", "col-themes",
            "col-candidate_score", "col-url"} <= set(shown)
    assert not {"col-url_key", "col-title_key", "col-edited_title", "col-why"} & set(shown)
    assert page.locator(".facet-info", has_text="status").count() >= 1  # facets and search still work
    assert page.locator("table.rows-and-columns td.col-title", has_text="Kinship").count() >= 1

    log_in(page, workspace, editor_password)
    page.goto(f"{workspace}-/searches")
    form = page.locator("form.saved-search").first
    theme = form.locator("select[name=theme]").bounding_box()
    publisher = form.locator("input[name=publisher]").bounding_box()
    page.screenshot(path=str(ARTEFACTS / "searches-1280.png"))
    overlap = theme["y"] < publisher["y"] + publisher["height"] and publisher["y"] < theme["y"] + theme["height"]
    assert not (overlap and theme["x"] + theme["width"] > publisher["x"]), (theme, publisher)


def test_not_sure_decides_in_place(browser, workspace_db, serve_process, editor_password, tmp_path, monkeypatch):
    """The not-sure view's cards carry Accept and Reject (its cards once hid them: no status on
    the card) and decide in place, with the page's script, as triage's do."""
    from tracker.judgement.classify import classify_publications
    from tracker.store import open_database

    monkeypatch.setenv("TRACKER_CACHE", str(tmp_path / "model-cache"))
    db = open_database(workspace_db)
    classify_publications(db)  # every unreviewed row gets the boundary it sits nearest
    db.close()
    _, url = serve_process("--db", str(workspace_db), "--no-poll")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, url, editor_password)
    page.goto(f"{url}-/not-sure")
    card = page.locator("li.card").first
    pid = card.get_attribute("data-id")
    card.get_by_role("button", name="Accept").click()
    card.locator(".decision", has_text="Accepted").wait_for()
    page.locator("#triage-status", has_text="Accepted").wait_for()
    page.screenshot(path=str(ARTEFACTS / "not-sure-decided.png"))
    assert page.url == f"{url}-/not-sure"
    assert Database(workspace_db).execute("select status from publications where id = ?",
                                          [pid]).fetchone()[0] == "accepted"
    assert errors == []


def test_pages_fit_a_phone(browser, workspace_db, serve_process, editor_password):
    """At 390 px nothing makes the page scroll sideways (the dashboard's charts, the model's
    scorecard and the publications' column notes did), and a card's line fields are wide enough
    to read what they hold (Datasette's form styles left them a few letters wide)."""
    from datetime import date

    from tracker.publish.digest import mark_sent
    from tracker.store import open_database

    db = open_database(workspace_db)
    db.execute("update publications set status = 'accepted' where title = ?", [KINSHIP])
    mark_sent(db, date.today(), "alice")  # an issue on the model's scorecard and on coverage
    db.close()
    _, url = serve_process("--db", str(workspace_db), "--no-poll")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, url, editor_password)
    for path in ("-/dashboard", "-/model", "-/coverage", "-/triage", "-/digest", "newsroom/publications"):
        page.goto(f"{url}{path}")
        page.screenshot(path=str(ARTEFACTS / f"phone-{path.replace('/', '-')}.png"), full_page=True)
        scroll, width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert scroll <= width, (path, scroll, width)
    page.goto(f"{url}-/triage")
    card = page.locator(".candidate").first
    card.locator("details.edit-line summary").click()
    for name in ("published", "publisher", "verb", "title"):
        assert card.locator(f"form.line [name={name}]").bounding_box()["width"] >= 120, name
    page.locator("details.add-url > summary").click()  # the URL's field was 500 px wide
    scroll, width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll <= width, ("add a publication", scroll, width)
    assert page.locator("details.add-url [name=publisher]").bounding_box()["width"] >= 150
    context.close()


def test_keyboard_focus_is_plain_to_see(browser, workspace, editor_password):
    """The keyboard's place shows as a thick ring (the browser's own thin dark line was lost on
    the green Accept button)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, workspace, editor_password)
    page.locator(".candidate").first.get_by_role("button", name="Reject").focus()
    page.keyboard.press("Shift+Tab")  # from the keyboard: the ring :focus-visible draws
    ring = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
        return [e.textContent.trim(), s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
    page.screenshot(path=str(ARTEFACTS / "focus-accept.png"))
    assert ring == ["Accept", "solid", 3], ring


def test_the_login_fields_line_up(browser, workspace):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{workspace}-/login")
    name, password = (page.locator(field).bounding_box() for field in ("#username", "#password"))
    assert name["width"] == password["width"] and name["x"] == password["x"], (name, password)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.locator("#username").bounding_box()["width"] <= 390 - 32


def test_the_first_answer_moves_no_card(browser, workspace, editor_password):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, workspace, editor_password)
    first = page.locator(".candidate").first
    before = first.bounding_box()["y"]
    first.get_by_role("button", name="Accept").click()
    page.locator("#triage-status", has_text="Accepted").wait_for()
    assert first.bounding_box()["y"] == before  # was a line lower, and every card after it
