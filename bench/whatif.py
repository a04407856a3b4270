"""What would fix the slow queries? Evidence for app changes, without making them.

    .venv/bin/python -m config.embedded -- .venv/bin/python bench/whatif.py [--db-name ...]

Runs against a database kept by `bench/run.py --keep`. Each case builds the app's own
query (through helpdesk.triage, helpdesk.services' query, the API filter) and a candidate
change: a different query shape, or DDL (an index, a statistics target). The DDL runs in a
transaction that is rolled back at the end, so the bench database is left as seeded. For
each it prints EXPLAIN (ANALYZE, BUFFERS) timings of before and after, the median wall time
of evaluating the query from Django (5 runs), and the plan after.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

OPEN = "status NOT IN ('resolved', 'closed')"
CANDIDATE_DDL = {
    "open by priority": f"CREATE INDEX whatif_open_priority ON helpdesk_ticket "
    f"(priority, id) WHERE {OPEN}",
    "open by resolution due": f"CREATE INDEX whatif_open_due ON helpdesk_ticket "
    f"(resolution_due, id) WHERE {OPEN}",
    "open by first response due": "CREATE INDEX whatif_open_first_due ON helpdesk_ticket "
    f"(first_response_due) WHERE {OPEN} AND first_response_at IS NULL",
    "next up": "CREATE INDEX whatif_next_up ON helpdesk_ticket "
    f"(priority, resolution_due, created_at, id) WHERE {OPEN} "
    "AND assignee_id IS NULL AND merged_into_id IS NULL",
    "search statistics": "ALTER TABLE helpdesk_ticket ALTER COLUMN search_vector "
    "SET STATISTICS 1000",
}


def setup(db_name: str) -> None:
    from bench.run import ENV_DEFAULTS, server_url, with_database

    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("STATIC_ROOT", tempfile.mkdtemp(prefix="bridgedesk-whatif-"))
    os.environ["DATABASE_URL"] = with_database(server_url(), db_name)
    import django

    django.setup()


def timings(queryset) -> tuple[float, float, str]:
    """(planning ms, execution ms, plan) of EXPLAIN (ANALYZE, BUFFERS)."""
    plan = queryset.explain(analyze=True, buffers=True)
    planning = execution = 0.0
    for line in plan.splitlines():
        if line.startswith("Planning Time:"):
            planning = float(line.split()[2])
        elif line.startswith("Execution Time:"):
            execution = float(line.split()[2])
    return planning, execution, plan


def wall(queryset, runs: int = 5) -> float:
    """Median ms of evaluating a fresh copy of `queryset` from Django."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        list(queryset.all())
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def compare(cases, ddl=(), note=""):
    """Time each case's before query, run `ddl` (then ANALYZE), time each after query.

    `cases` is a list of (title, before queryset, after queryset)."""
    from django.db import connection

    before = {title: (timings(b), wall(b)) for title, b, _ in cases}
    if ddl:
        with connection.cursor() as cursor:
            for statement in ddl:
                cursor.execute(statement)
            cursor.execute("ANALYZE helpdesk_ticket")
    for title, _, after_qs in cases:
        (b_plan, b_exec, _), b_wall = before[title]
        a_plan, a_exec, plan = timings(after_qs)
        a_wall = wall(after_qs)
        print(f"\n=== {title}")
        if note:
            print(note)
        if ddl:
            print("DDL (rolled back at the end):\n  " + ";\n  ".join(ddl))
        print(
            f"before: planning {b_plan:.1f} ms, execution {b_exec:.1f} ms, "
            f"from Django {b_wall:.1f} ms"
        )
        print(
            f"after:  planning {a_plan:.1f} ms, execution {a_exec:.1f} ms, "
            f"from Django {a_wall:.1f} ms"
        )
        print("plan after:")
        print("\n".join("    " + line for line in plan.splitlines()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-name", default="bridgedesk_bench")
    args = parser.parse_args(argv)
    setup(args.db_name)

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.contrib.postgres.search import SearchQuery
    from django.db import transaction
    from django.db.models import Count, F, OuterRef, Q, Subquery
    from django.db.models.functions import Coalesce
    from django.utils import timezone

    from helpdesk import triage
    from helpdesk.models import Queue, Ticket
    from helpdesk.views.agent import TRIAGE_COLUMNS
    from projects.models import Milestone

    agent = User.objects.get(username="bench_agent")
    now = timezone.now()
    print(f"Database {args.db_name!r}, {Ticket.objects.count():,} tickets; load {os.getloadavg()}")

    def app_list(query: dict):
        """The triage list query exactly as helpdesk.views.agent.triage_list builds it."""
        filters = triage.Filters.from_query(query)
        tickets = (
            triage.filtered_tickets(agent, filters, now=now)
            .with_list_columns()
            .select_related("sla_policy__calendar")
            .only(*TRIAGE_COLUMNS)
        )
        return triage.ordered(tickets, triage.SORTS[filters.sort])[: triage.PAGE_SIZE + 1]

    queue_ids = list(Queue.objects.visible_to(agent).values_list("pk", flat=True))
    done_milestones = Milestone.objects.filter(completed_at__isnull=False).values("pk")

    def lean_list(query: dict):
        """The same rows with fewer joins for the planner: the agent's queues as a list of
        ids, awake() through a subquery instead of a join, the SLA policy and calendar
        left to a separate small query, and the wide columns the list never shows
        (search_vector, description) deferred. Only the filters the cases below use."""
        from helpdesk import sla

        filters = triage.Filters.from_query(query)
        tickets = Ticket.objects.filter(queue_id__in=queue_ids)
        if filters.status == "active":
            tickets = tickets.open()
        if filters.priority:
            tickets = tickets.filter(priority=filters.priority)
        if filters.assignee == "me":
            tickets = tickets.filter(assignee=agent)
        if filters.queue:
            tickets = tickets.filter(queue__slug=filters.queue)
        if filters.tag:
            tickets = tickets.tagged(filters.tag)
        if filters.sla == "breached":
            tickets = tickets.filter(sla.breached_q(now))
        elif filters.sla == "due_soon":
            tickets = tickets.filter(sla.due_soon_q(now, within=triage.DUE_SOON))
        if filters.q:
            words = SearchQuery(filters.q, search_type="websearch", config=settings.SEARCH_CONFIG)
            tickets = tickets.filter(search_vector=words)
        tickets = tickets.filter(
            Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now),
            Q(snoozed_until_milestone__isnull=True)
            | Q(snoozed_until_milestone__in=done_milestones),
        )
        tickets = tickets.select_related("queue", "requester", "assignee").defer(
            "search_vector", "description"
        )
        return triage.ordered(tickets, triage.SORTS[filters.sort])[: triage.PAGE_SIZE + 1]

    with transaction.atomic():
        # 1. Queue counts, on every triage page.
        counts_app = Queue.objects.visible_to(agent).with_open_counts()
        open_count = (
            Ticket.objects.open()
            .filter(queue=OuterRef("pk"))
            .order_by()
            .values("queue")
            .annotate(count=Count("*"))
            .values("count")
        )
        counts_star = Queue.objects.visible_to(agent).annotate(
            open_count=Coalesce(Subquery(open_count), 0)
        )
        compare(
            [
                (
                    "Queue counts: Count('pk') → Count('*') "
                    "(an index-only scan of ticket_open_by_queue)",
                    counts_app,
                    counts_star,
                )
            ]
        )

        # 2. The list itself: planning time of the joins.
        compare(
            [
                (
                    f"Triage list {query or 'default'}: fewer joins, wide columns deferred",
                    app_list(query),
                    lean_list(query),
                )
                for query in ({}, {"priority": "P1"}, {"sla": "breached"}, {"tag": "vpn"})
            ],
            note=lean_list.__doc__,
        )

        # 3. Sorts and the due-soon filter over all open tickets.
        sort_indexes = ("open by priority", "open by resolution due", "open by first response due")
        compare(
            [
                (
                    f"Triage list {query}: partial indexes + lean query",
                    app_list(query),
                    lean_list(query),
                )
                for query in ({"sort": "priority"}, {"sort": "due"}, {"sla": "due_soon"})
            ],
            ddl=[CANDIDATE_DDL[name] for name in sort_indexes],
        )

        # 4. Next ticket.
        candidate = (
            Ticket.objects.filter(queue__members=agent)
            .open()
            .awake(now)
            .filter(assignee__isnull=True, merged_into__isnull=True)
            .order_by("priority", F("resolution_due").asc(nulls_last=True), "created_at", "pk")
            .select_for_update(of=("self",), skip_locked=True)[:1]
        )
        compare(
            [
                (
                    "Next ticket: services.ticket_take_next's SELECT … SKIP LOCKED",
                    candidate,
                    candidate,
                )
            ],
            ddl=[CANDIDATE_DDL["next up"]],
        )

        # 5. Search: the planner's guess of how many tickets match a rare word.
        search_options = {"config": settings.SEARCH_CONFIG, "search_type": "websearch"}

        def api_search(word):
            """helpdesk.api.TicketViewSet's list with ?search= (TicketFilter.filter_search)."""
            return (
                Ticket.objects.visible_to(agent)
                .select_related("queue", "requester")
                .filter(search_vector=SearchQuery(word, **search_options))
                .order_by("-id")[:51]
            )

        searches = [
            ("API ?search=kerberos", api_search("kerberos")),
            ("triage ?q=kerberos", app_list({"q": "kerberos"})),
            ("triage ?q=password", app_list({"q": "password"})),
        ]
        compare(
            [
                (f"{title}: statistics target 1000 on search_vector", qs, qs)
                for title, qs in searches
            ],
            ddl=[CANDIDATE_DDL["search statistics"]],
            note="The same query before and after: only the planner's estimate changes.",
        )
        transaction.set_rollback(True)
    print("\nRolled back: the bench database is as seeded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
