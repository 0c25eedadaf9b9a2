"""The importer on the two real past issues (every Tools & Templates line) and on the mess
such lines contain: glued entries, continuation lines, month-only dates, missing years, other
verbs, joint publishers and typos."""

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.publish.newsletter import (
    NewsletterError,
    import_newsletter,
    parse_newsletter,
    parse_section,
    read_newsletter,
)

NEWSLETTERS = Path(__file__).resolve().parents[2] / "shared" / "newsletters"
ISSUES = {
    "626": (NEWSLETTERS / "000_10a1ba915aaf5b65.txt", date(2024, 9, 13)),
    "658": (NEWSLETTERS / "004_8649c7e1fd4b144e.txt", date(2025, 4, 18)),
}
needs_newsletters = pytest.mark.skipif(
    not NEWSLETTERS.is_dir(), reason=f"the real past issues are not here: {NEWSLETTERS} is missing"
)

# Every entry of each issue, in the issue's order: (n, published, publisher, verb, title).
# Titles keep the issue's own typography and slips ("a A powerful", "Secratary", the trailing
# comma after 'Big Listen'): the digest must be able to reproduce the line as printed.
ISSUE_626 = [
    (1, '2024-09-10', 'DfE', 'published',
     'Key stage 2 attainment for academic year 2023/24'),
    (2, '2024-09-03', 'Ofsted', 'published',
     'a detailed response to its ‘Big Listen’ consultation,'),
    (3, '2024-09-03', 'Children at the Table', 'published',
     'Struggling against the tide: children’s services spending 2022-2023'),
    (4, '2024-08-23', 'Become', 'published',
     'Still Too Far – Children in Care being moved miles from the people and places that matter to them'),
    (5, '2024-08-23', 'Kinship', 'published',
     'Forgotten, a report on support for kinship children’s education and mental health.'),
    (6, '2024-08-21', 'Action for Children', 'published',
     'Four things you need to know about the UK care system'),
    (7, '2024-08-15', 'NCB', 'published',
     'A call for change – tackling inequalities in access to mental health support for children with social '
     'work involvement and those living in poverty'),
    (8, '2024-08-01', 'Skills for Care', 'published',
     'Assessed and Supported Year in Employment (ASYE) child and family Annual report to the Department for '
     'Education April 2023 – March 2024'),
    (9, '2024-07-31', 'the Centre for Homelessness Impact', 'published',
     'Staying put: leaving care and the risk of homelessness.'),
    (10, '2024-07-25', 'LGA and County Councils Network', 'published',
     'Towards an effective and financially sustainable approach to SEND in England'),
    (11, '2024-07-16', 'MSHR', 'published',
     'Internal trafficking and exploitation of children and young people with special educational needs and '
     'disabilities (SEND) within England and Wales'),
    (12, '2024-07-11', 'NFJO', 'published',
     'This is what we think – Perspectives on being cared for from older children and young people – '
     'including those on deprivation of liberty orders'),
    (13, '2024-07-10', "CSA Centre and Barnardo's SEEN", 'published',
     'the first overview of research in relation to the sexual abuse of African, Asian and Caribbean '
     'heritage children.'),
    (14, '2024-06-26', 'the BBC radio programme Money Box Live', 'broadcast',
     'a 30-minute programme on Care leavers and how they manage their money'),
    (15, '2024-06-20', 'DfE', 'published',
     'SEND pupil census information, based on school census data.'),
    (16, '2024-06-17', 'Joseph Rowntree Foundation', 'published',
     'The impact of hardship on primary schools and primary and community healthcare'),
    (17, '2024-06-13', 'The Fostering Network', 'launched',
     'the 2024 State of the Nations’ Foster Care survey and it remains open until 30 June.'),
    (18, '2024-06-13', 'DfE', 'published',
     'Education and Health Care Plans 2024'),
    (19, '2024-06-06', 'DfE', 'published',
     'Schools, pupils and their characteristics 2023-2024'),
    (20, '2024-06-05', 'Mr Justice Chamberlain', 'published',
     'his final decision in the long running JR case involving ECPAT UK, Kent, Brighton and Hove and the '
     'Home Secretary and the Education Secratary. Neutral Citation Number: [2024] EWHC 1353 (Admin).'),
    (21, '2024-05-24', "the Children's Commissioner", 'published',
     'Children’s experiences as victims of crime'),
    (22, '2024-05-21', 'Data 2 Insight', 'published',
     'Children’s Social Care for Data People, an overview of the system, stakeholders, common local '
     'practice, and necessary knowledge for data professionals working in Children’s Social Care'),
    (23, '2024-05-15', 'the Child Safeguarding Practice Review Panel', 'published',
     'Safeguarding Children in Elective Home Education'),
    (24, '2024-05-13', 'DfE', 'published',
     'Agency child and family social workers: data return and price caps'),
]
ISSUE_658 = [
    (1, '2025-04-07', "the Children's Charities Coalition", 'published',
     'Children’s services spending report: A long road to recovery – Local authority spending on early '
     'intervention children’s services 2010/11 to 2023/24'),
    (2, '2025-04-07', 'MoJ', 'published',
     'Family Court Statistics Quarterly: October to December 2024'),
    (3, '2025-04-03', 'DfE', 'advertised',
     'for a National Safeguarding Partner Multi-agency Facilitator (LA Lead)'),
    (4, '2025-04-02', 'FRG', 'released',
     'A film for parents with learning difficulties and disabilities: working with a child and family '
     'social worker (YouTube 10 minutes 33 seconds)'),
    (5, '2025-03-27', 'Kinship', 'published',
     'Raised by Relatives: the experiences of Black and Asian kinship carers'),
    (6, '2025-03-26', 'Mutual Ventures', 'published',
     'a range of case studies and a good practice guide in relation to the DfJ Reducing Time to Family '
     'Court programme'),
    (7, '2025-03-20', 'DfE', 'published',
     'The Families First Partnership (FFP) programme guide'),
    (8, '2025-03-20', 'DfE', 'published',
     'Pupil absence in schools in England data for academic year 2023/24'),
    (9, '2025-03-18', 'Kinship', 'premiered',
     'a A powerful short film revealing what growing up in kinship care is like.'),
    (10, '2025-03-13', 'Youth Endowment Fund', 'published',
     'the Safe podcast'),
    (11, '2025-03-11', 'LGA', 'published',
     'a case study of Coventry CC’s Reunification Project'),
    (12, '2025-03-11', 'the Child Safeguarding Practice Review Panel', 'published',
     'It’s Silent: Race, racism, and safeguarding children'),
    (13, '2025-03-07', 'the HoC Committee of Public Accounts', 'published',
     'Improving educational outcomes for disadvantaged children'),
    (14, '2025-03-07', 'NSPCC', 'published',
     '‘Disguised compliance’: learning from case reviews'),
    (15, '2025-03-06', 'TASO', 'published',
     'Pathways into and through higher education for young people with experience of children’s social care'),
    (16, '2025-02-27', 'ONS', 'published',
     'Young people not in education, employment or training (NEET), UK: February 2025'),
    (17, '2025-02-27', "the Children's Commissioner", 'published',
     'The educational journeys of children in secure settings'),
    (18, '2025-02-27', 'DfE', 'published',
     'Children’s social work workforce data for 2024'),
    (19, '2025-02-25', 'Ofsted', 'published',
     'Good decisions: supporting children aged 16 and 17 who need help when they are homeless'),
    (20, '2025-02-20', 'the Local Government and Social Care Ombudsman', 'published',
     'Fostering better services: Helping to improve council services for foster carers and their children'),
    (21, '2025-02-13', 'DfE', 'published',
     'A level and other 16 to 18 results for academic year 2023-2024'),
    (22, '2025-02-07', 'Foundations', 'published',
     'Parenting through adversity, the second in a series of practice guides commissioned by the DfE to '
     'support the roll-out of the children’s social care national framework'),
    (23, '2025-02-04', 'Pause and Listen', 'published',
     'In a Mother’s Mind: Birth mothers’ experiences of domestic abuse'),
    (24, '2025-02-03', 'IJPDS', 'published',
     'Estimated cumulative incidence of intervention by children’s social care services to age 18: a '
     'whole-of-England administrative data cohort study using the child in need census'),
    (25, '2025-02-01', 'Centrepoint', 'published',
     'Hidden In Plain Sight: Understanding Youth Homelessness in the UK'),
    (26, '2025-02-01', 'The Fostering Network', 'published',
     'State of the Nations’ Foster Care – Full Report 2024'),
]
# Where the issue spells the publisher otherwise than its configured short name.
WRITTEN_AS = {
    ("626", 13): "CSA Centre and Barnardo’s\u00a0SEEN",
    ("626", 21): "the Childrens’ Commissioner",
    ("658", 1): "the Children’s Charities Coalition",
    ("658", 7): "the DfE",
    ("658", 17): "the Children’s Commissioner",
    ("658", 19): "Oftsed",
    ("658", 22): "Foundations (previously the What Works Centre for Families and Children)",
}
MONTH_ONLY = {("626", 8)}  # "In August Skills for Care published ..."
REGIONAL_PLAN = "We have produced a Regional Improvement Plan (June 2024)"
ENTRIES = [("626", *row) for row in ISSUE_626] + [("658", *row) for row in ISSUE_658]


@pytest.fixture(scope="module")
def real_issues():
    return {number: read_newsletter(path, when) for number, (path, when) in ISSUES.items()}


@needs_newsletters
@pytest.mark.parametrize(
    "issue, n, published, publisher, verb, title", ENTRIES, ids=[f"{e[0]}-{e[1]}" for e in ENTRIES]
)
def test_every_real_entry(real_issues, issue, n, published, publisher, verb, title):
    item = real_issues[issue].items[n - 1]
    assert (item.date.isoformat(), item.publisher, item.verb, item.title) == (
        published, publisher, verb, title
    )
    assert item.month_only == ((issue, n) in MONTH_ONLY)
    assert WRITTEN_AS.get((issue, n), publisher) in item.line


@needs_newsletters
@pytest.mark.parametrize("issue, table", [("626", ISSUE_626), ("658", ISSUE_658)])
def test_real_issue_has_exactly_these_entries(real_issues, issue, table):
    parsed = real_issues[issue]
    assert len(parsed.items) == len(table)
    assert [(s.line, "not an entry" in s.reason) for s in parsed.skipped] == [(REGIONAL_PLAN, True)]


@needs_newsletters
def test_import_both_real_issues_then_again(db):
    first = [import_newsletter(db, path, when) for path, when in ISSUES.values()]
    assert [len(r.imported) for r in first] == [len(ISSUE_626), len(ISSUE_658)]
    rows = list(db.query("select * from publications order by id"))
    again = [import_newsletter(db, path, when) for path, when in ISSUES.values()]
    assert [(len(r.imported), r.already) for r in again] == [(0, 24), (0, 26)]
    assert list(db.query("select * from publications order by id")) == rows
    assert db.execute(
        "select count(*) from publications where status = 'accepted' and url like 'urn:tracker:newsletter:%'"
    ).fetchone()[0] == 50
    skills = db.execute(
        "select published, date_source from publications where url = 'urn:tracker:newsletter:2024-09-13:8'"
    ).fetchone()
    assert skills == ("2024-08-01", "month")


def section(*lines: str) -> str:
    return "Update no 700\n\nUpdates\n\nTools & Templates\n\n" + "\n\n".join(lines) + "\n\nContact Details\n\nSomeone\n"


def one(line: str, issue: date = date(2025, 4, 18)):
    [item] = parse_newsletter(section(line), issue)
    return item


def test_plain_entry():
    item = one("On 7 April MoJ published Family Court Statistics Quarterly: October to December 2024")
    assert (item.date, item.month_only, item.publisher, item.verb, item.title) == (
        date(2025, 4, 7), False, "MoJ", "published",
        "Family Court Statistics Quarterly: October to December 2024",
    )


def test_month_only_is_the_first_of_the_month():
    item = one("In August Skills for Care published ASYE annual report", date(2024, 9, 13))
    assert (item.date, item.month_only) == (date(2024, 8, 1), True)


@pytest.mark.parametrize("written", ["On Thursday 25 July", "On Thursday, 25 July", "On 25th July"])
def test_weekday_and_ordinal(written):
    item = one(f"{written} LGA and County Councils Network published Towards SEND", date(2024, 9, 13))
    assert (item.date, item.publisher, item.title) == (
        date(2024, 7, 25), "LGA and County Councils Network", "Towards SEND"
    )


def test_glued_entries_split():
    text = section(
        "On 5 June Mr Justice Chamberlain published his final decision. Neutral Citation Number: "
        "[2024] EWHC 1353 (Admin).On 24 May the Childrens’ Commissioner published Children’s "
        "experiences as victims of crime"
    )
    first, second = parse_newsletter(text, date(2024, 9, 13))
    assert first.title.endswith("[2024] EWHC 1353 (Admin).")
    assert first.line.endswith("(Admin).")
    assert (second.date, second.publisher, second.title) == (
        date(2024, 5, 24), "the Children's Commissioner", "Children’s experiences as victims of crime"
    )
    assert second.line.startswith("On 24 May the Childrens’ Commissioner")


def test_continuation_line_joins_its_entry():
    text = section(
        "On 21 May Data 2 Insight published Children’s Social Care for Data People, and necessary\n"
        "knowledge for data professionals"
    )
    [item] = parse_newsletter(text, date(2024, 9, 13))
    assert item.title == "Children’s Social Care for Data People, and necessary knowledge for data professionals"


def test_lower_case_line_after_a_blank_continues_but_a_sentence_does_not():
    text = section("On 1 April DfE published Guidance on the", "statutory duties of councils",
                   "Our plan can be found here")
    items, skipped = parse_section(text, date(2025, 4, 18))
    assert [i.title for i in items] == ["Guidance on the statutory duties of councils"]
    assert [s.line for s in skipped] == ["Our plan can be found here"]


@pytest.mark.parametrize("publisher", [
    "LGA and County Councils Network", "CSA Centre and Barnardo's SEEN",
    "the Child Safeguarding Practice Review Panel", "the HoC Committee of Public Accounts",
    "the Local Government and Social Care Ombudsman", "Mr Justice Chamberlain",
    "the BBC radio programme Money Box Live",
])
def test_publisher_with_spaces_keeps_the_newsletters_wording(publisher):
    item = one(f"On 2 April {publisher} published A report on children")
    assert (item.publisher, item.title) == (publisher, "A report on children")


@pytest.mark.parametrize("written, short", [
    ("Oftsed", "Ofsted"),
    ("the Childrens’ Commissioner", "the Children's Commissioner"),
    ("the Childrens' Commissioner", "the Children's Commissioner"),
    ("Children’s Commissioner", "the Children's Commissioner"),
    ("the DfE", "DfE"),
    ("Department for Education", "DfE"),
    ("Foundations (previously the What Works Centre for Families and Children)", "Foundations"),
    ("Barnardo’s", "Barnardo's"),
])
def test_typos_and_variants_take_the_configured_short_name(written, short):
    line = f"On 25 February {written} published Good decisions"
    item = one(line)
    assert (item.publisher, item.title, item.line) == (short, "Good decisions", line)


@pytest.mark.parametrize("verb, title", [
    ("released", "A film for parents (YouTube 10 minutes 33 seconds)"),
    ("launched", "the 2024 State of the Nations’ Foster Care survey"),
    ("premiered", "a A powerful short film"),
    ("advertised", "for a National Safeguarding Partner Multi-agency Facilitator (LA Lead)"),
    ("broadcast", "a 30-minute programme on Care leavers"),
    ("published", "his final decision in the long running JR case"),
])
def test_other_verbs_are_kept(verb, title):
    item = one(f"On 2 April Somebody Else {verb} {title}")
    assert (item.publisher, item.verb, item.title) == ("Somebody Else", verb, title)


def test_only_the_first_verb_splits_publisher_from_title():
    item = one("On 2 April NSPCC published Who published what: a launched guide")
    assert (item.publisher, item.title) == ("NSPCC", "Who published what: a launched guide")


@pytest.mark.parametrize("written, issue, expected", [
    ("On 13 December", date(2025, 1, 17), date(2024, 12, 13)),  # December in a January issue
    ("In December", date(2025, 1, 10), date(2024, 12, 1)),
    ("On 3 January", date(2025, 1, 10), date(2025, 1, 3)),
    ("On 20 January", date(2025, 1, 10), date(2025, 1, 20)),  # a few days ahead of the issue
    ("On 10 September", date(2024, 9, 13), date(2024, 9, 10)),
    ("On 3 March 2023", date(2025, 4, 18), date(2023, 3, 3)),  # an explicit year wins
    ("On 29 February", date(2025, 3, 7), date(2024, 2, 29)),  # only the year before has it
])
def test_year_comes_from_the_issue(written, issue, expected):
    assert one(f"{written} DfE published Something", issue).date == expected


@pytest.mark.parametrize("line, reason", [
    (REGIONAL_PLAN, "not an entry"),
    ("On 3 April DfE wrote to directors of children's services", "no verb"),
    ("On 31 April DfE published Nothing", "no such date"),
])
def test_lines_that_are_not_entries_are_skipped_with_a_reason(line, reason):
    items, skipped = parse_section(section(line), date(2025, 4, 18))
    assert items == []
    assert [s.line for s in skipped] == [line] and reason in skipped[0].reason


def test_no_section_is_an_error():
    with pytest.raises(NewsletterError, match="Tools & Templates"):
        parse_newsletter("Update no 1\n\nOn 7 April DfE published X\n", date(2025, 4, 18))


def test_import_stores_accepted_rows_and_never_overwrites_an_editor(db, tmp_path):
    path = tmp_path / "issue.txt"
    path.write_text(section(
        "On 7 April Oftsed published Good decisions",
        "In March Kinship premiered a short film",
        REGIONAL_PLAN,
    ), encoding="utf-8")
    result = import_newsletter(db, path, date(2025, 4, 18))
    assert (len(result.imported), result.already, len(result.skipped)) == (2, 0, 1)
    rows = list(db.query("select * from publications order by id"))
    assert [(r["url"], r["publisher"], r["published"], r["date_source"], r["verb"], r["status"])
            for r in rows] == [
        ("urn:tracker:newsletter:2025-04-18:1", "Ofsted", "2025-04-07", "newsletter", "published", "accepted"),
        ("urn:tracker:newsletter:2025-04-18:2", "Kinship", "2025-03-01", "month", "premiered", "accepted"),
    ]
    assert rows[0]["newsletter_line"] == "On 7 April Oftsed published Good decisions"
    assert rows[0]["first_seen"] == "2025-04-18T00:00:00Z"
    # Classified as stored, so the digest can group past issues by network.
    assert all(r["model_version"] and r["candidate_score"] is not None for r in rows)
    assert isinstance(json.loads(rows[0]["themes"]), list)
    db.execute("update publications set status = 'rejected', themes = '[\"send\"]', "
               "themes_by_editor = 1 where id = ?", [rows[0]["id"]])
    before = list(db.query("select * from publications order by id"))
    again = import_newsletter(db, path, date(2025, 4, 18))
    assert (len(again.imported), again.already) == (0, 2)
    assert list(db.query("select * from publications order by id")) == before


def test_cli_imports_and_reports(tmp_path):
    path = tmp_path / "issue.txt"
    path.write_text(section("On 7 April MoJ published Family Court Statistics", REGIONAL_PLAN))
    db_path = tmp_path / "t.db"
    args = ["import-newsletter", str(path), "--date", "2025-04-18", "--db", str(db_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "(issue of 18 April 2025): imported 1 entry, 0 already imported, skipped 1" in result.stdout
    assert REGIONAL_PLAN in result.stdout
    result = CliRunner().invoke(cli, args)
    assert "imported 0 entries, 1 already imported" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["missing.txt", "--date", "2025-04-18"], "no such file: missing.txt"),
    (["ISSUE", "--date", "18/04/2025"], "Invalid value for '--date': expected a date as YYYY-MM-DD"),
    (["ISSUE", "--date", "2025-02-30"], "Invalid value for '--date': 2025-02-30 is not a real date"),
    (["ISSUE"], "Missing option '--date'"),
    (["NOSECTION", "--date", "2025-04-18"], "no 'Tools & Templates' section"),
])
def test_cli_user_errors_are_one_line_and_create_no_database(tmp_path, args, message):
    issue = tmp_path / "issue.txt"
    issue.write_text(section("On 7 April MoJ published X"))
    nosection = tmp_path / "other.txt"
    nosection.write_text("Just a letter\n")
    args = [{"ISSUE": str(issue), "NOSECTION": str(nosection)}.get(a, a) for a in args]
    db_path = tmp_path / "t.db"
    result = CliRunner().invoke(cli, ["import-newsletter", *args, "--db", str(db_path)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not db_path.exists()
