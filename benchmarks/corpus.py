"""Realistic synthetic publications for the benchmarks: the kinds of titles the real feeds
carry (children's services reports and statistics, and the non-candidates the same feeds
publish: apprenticeship rules, ONS economic releases, planning, job adverts, school reports).

Every title is unique (a series number), so the store's cross-publisher title merge keeps one
row per generated publication and the row counts are exact.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from tracker.entries import Entry
from tracker.ingest.config import parse_config
from tracker.ingest.normalise import url_key

PUBLISHERS = ["DfE", "Ofsted", "MoJ", "ONS", "LGA", "NSPCC", "Barnardo's", "Action for Children",
              "the Children's Commissioner", "Kinship", "Family Rights Group", "Foundations",
              "Nuffield Family Justice Observatory", "Youth Endowment Fund", "JRF", "Become"]
CANDIDATES = [
    "Kinship care: support for special guardians and family carers",
    "Children looked after in England including adoptions",
    "Special educational needs and disability: an analysis and summary of data sources",
    "Fostering in England: recruitment and retention of foster carers",
    "Family court statistics quarterly",
    "Youth justice statistics: children in custody",
    "Child safeguarding practice review: learning from serious incidents",
    "Early help system guide for local safeguarding partners",
    "Children's social work workforce: agency workers and vacancies",
    "Mental health support teams in schools: evaluation",
    "Adoption support fund: evaluation of therapeutic support",
    "Children's services spending: a long road to recovery",
    "Inspection of local authority children's services: findings",
    "Care leavers' transitions to adulthood",
]
NON_CANDIDATES = [
    "Apprenticeship funding rules for training providers",
    "Consumer price inflation, UK",
    "Teachers' pay award: guidance for schools",
    "Planning reform and waste collection consultation response",
    "Job vacancy: fundraising officer",
    "Ofsted report: St Mary's Church of England Primary School",
    "Labour market overview, UK",
    "Further education college financial health",
    "Christmas fundraising appeal launched",
]
SUMMARIES = [
    "This report sets out findings and recommendations for local authorities and their partners.",
    "Data tables and commentary for the period, with notes on methodology and revisions.",
    "Guidance for practitioners, with case studies from councils across England.",
    "An evaluation of the programme's first two years, including costs and outcomes.",
]


def source_for(n: int):
    publisher = PUBLISHERS[n % len(PUBLISHERS)]
    return parse_config({"sources": [{
        "id": f"bench-{n:04d}", "publisher": publisher, "type": "feed",
        "url": f"https://publisher-{n}.example/feed",
    }]}).sources[0]


def entries(count: int, start: int = 0, seed: int = 0) -> list[Entry]:
    rng = random.Random(seed + start)
    first = datetime.now(timezone.utc) - timedelta(days=730)
    result = []
    for n in range(start, start + count):
        # About one in six is the kind editors list; the rest is what else the feeds publish.
        topic = rng.choice(CANDIDATES if rng.random() < 0.17 else NON_CANDIDATES)
        title = f"{topic}: edition {n}"
        url = f"https://www.gov.uk/government/publications/{topic[:30].lower().replace(' ', '-')}-{n}"
        published = (first + timedelta(minutes=7 * n % (730 * 24 * 60))).date().isoformat()
        result.append(Entry(url=url, url_key=url_key(url), title=title,
                            summary=rng.choice(SUMMARIES), published=published, date_source="feed"))
    return result
