"""Demo data so every page shows something real on a fresh install."""

from datetime import time, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.models import BusinessCalendar, BusinessHours
from config.roles import AGENTS, PROJECT_MANAGERS, STAKEHOLDERS
from helpdesk.models import CannedResponse, Queue, SLAPolicy, SLATarget, Ticket
from helpdesk.services import ticket_create, ticket_link, ticket_update
from liaison.models import ProjectDesk
from liaison.publish import bulletins_refresh, publish_project
from projects import services as project_services
from projects.models import Column, Milestone, Project

DEMO_PASSWORD = "demo"  # noqa: S105 - demo data only, refused when DEBUG is off

USERS = [
    # username, first, last, role, superuser
    ("admin", "Ada", "Admin", None, True),
    ("agent", "Sam", "Agent", AGENTS, False),
    ("pm", "Priya", "Manager", PROJECT_MANAGERS, False),
    ("stakeholder", "Stefan", "Holder", STAKEHOLDERS, False),
]

TICKETS = [
    # queue, subject, requester, name, status, priority, type, source
    ("service-desk", "Laptop will not connect to office Wi-Fi", "lena.fischer@example.org",
     "Lena Fischer", "new", "P2", "incident", "email"),
    ("service-desk", "New starter needs accounts on Monday", "hr@example.org",
     "HR team", "open", "P3", "request", "web"),
    ("service-desk", "Outlook keeps asking for my password", "omar.haddad@example.org",
     "Omar Haddad", "pending", "P3", "incident", "phone"),
    ("service-desk", "When does the new VPN arrive?", "jo.martin@example.org",
     "Jo Martin", "new", "P4", "question", "web"),
    ("service-desk", "Printer on floor 2 jams on every job", "facilities@example.org",
     "Facilities", "open", "P3", "incident", "email"),
    ("service-desk", "Cannot open shared drive S:", "mei.chen@example.org",
     "Mei Chen", "resolved", "P2", "incident", "phone"),
    ("network", "Branch office link down", "branch-manager@example.org",
     "Branch manager", "open", "P1", "incident", "phone"),
    ("network", "Request firewall rule for payroll vendor", "payroll@example.org",
     "Payroll", "on_hold", "P3", "request", "web"),
    ("network", "VPN drops every 20 minutes", "k.osei@example.org",
     "Kwame Osei", "open", "P2", "problem", "email"),
]  # fmt: skip

# name, kind, baseline and target as days from today (a past target means completed)
VPN_MILESTONES = [
    ("Pilot group live", "regular", -20, -14),
    ("Client rolled out to all laptops", "regular", 10, 24),
    ("Cut-over: old VPN switched off", "go_live", 30, 44),
    ("Handover to service desk", "handover", 40, 54),
]
WIFI_MILESTONES = [
    ("Site survey", "regular", 5, 5),
    ("Floors 1–3 live", "go_live", 40, 40),
]

# title, column, assignee, estimate hours, milestone
VPN_TASKS = [
    ("Package the new client", "Done", "pm", 16, "Client rolled out to all laptops"),
    ("Fix the certificate chain", "In progress", "agent", 12, "Client rolled out to all laptops"),
    ("Roll out to finance", "To do", "agent", 8, "Client rolled out to all laptops"),
    ("Roll out to everyone else", "To do", "agent", 24, "Client rolled out to all laptops"),
    ("Write the support runbook", "Review", "pm", 6, "Handover to service desk"),
    ("Train the service desk", "To do", "pm", 4, "Handover to service desk"),
    ("Switch off the old concentrators", "To do", "agent", 4, "Cut-over: old VPN switched off"),
]
VPN_DEPENDENCIES = [
    ("Fix the certificate chain", "Roll out to finance"),
    ("Roll out to finance", "Roll out to everyone else"),
    ("Roll out to everyone else", "Switch off the old concentrators"),
    ("Write the support runbook", "Train the service desk"),
]
# How many hours ago some demo tickets came in (the rest: one hour).
DEMO_AGE_HOURS = {"Branch office link down": 6, "VPN drops every 20 minutes": 30}
# priority, first response, resolution (business minutes)
SLA_TARGETS = [
    ("P1", 30, 4 * 60),
    ("P2", 2 * 60, 10 * 60),
    ("P3", 4 * 60, 3 * 600),
    ("P4", 8 * 60, 5 * 600),
]
CANNED_RESPONSES = [
    (
        "Restart first",
        "Hello ${requester_first_name},\n\nplease restart your laptop and tell us whether "
        "the problem is still there.\n\n${agent_name}",
    ),
    (
        "VPN: new client coming",
        "Hello ${requester_first_name},\n\nthe new VPN client reaches every laptop in the "
        "roll-out; until then the old VPN keeps working. We keep ${ticket_reference} open "
        "and tell you when it is your turn.\n\n${agent_name}",
    ),
]


class Command(BaseCommand):
    help = "Create demo users (password 'demo'), queues, tickets and projects. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even when DEBUG is off (not for production)."
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with the password 'demo'; it refuses to run with "
                "DEBUG off. Use --force if this really is a demo installation."
            )
        if User.objects.filter(username="admin").exists() and Queue.objects.exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        with transaction.atomic():
            users = self._users()
            queues = self._queues(users)
            projects = self._projects(users)
            self._tickets(users, queues, projects)
            self._bridge(users, queues, projects)
        # What a worker would do after commit, done now so the first page shows it.
        for project in Project.objects.all():
            publish_project(project.pk)
            bulletins_refresh(project)  # also for projects with no plan change yet
        self.stdout.write(
            self.style.SUCCESS("Demo data loaded: admin, agent, pm, stakeholder / demo")
        )

    def _users(self):
        users = {}
        for username, first, last, role, superuser in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@bridgedesk.example",
                    "is_staff": superuser,
                    "is_superuser": superuser,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            if role:
                user.groups.add(Group.objects.get_or_create(name=role)[0])
            if username == "agent":  # the demo's support lead signs off handovers
                user.user_permissions.add(
                    Permission.objects.get(
                        codename="sign_off_handover", content_type__app_label="liaison"
                    )
                )
            users[username] = user
        for role in (AGENTS, PROJECT_MANAGERS, STAKEHOLDERS):
            Group.objects.get_or_create(name=role)
        return users

    def _queues(self, users):
        service_desk, _ = Queue.objects.get_or_create(
            slug="service-desk",
            defaults={
                "name": "Service desk",
                "key": "SD",
                "is_public": True,
                "inbound_address": "servicedesk@bridgedesk.example",
                "description": "First line for everything IT.",
            },
        )
        network, _ = Queue.objects.get_or_create(
            slug="network",
            defaults={"name": "Network", "key": "NET", "description": "Links, VPN, firewall."},
        )
        policy = self._sla_policy()
        for queue in (service_desk, network):
            queue.members.add(users["agent"], users["admin"])
            if queue.default_sla_policy is None:
                queue.default_sla_policy = policy
                queue.save(update_fields=["default_sla_policy"])
        self._canned_responses(service_desk)
        return {"service-desk": service_desk, "network": network}

    def _sla_policy(self):
        calendar, created = BusinessCalendar.objects.get_or_create(
            name="Office hours", defaults={"time_zone": settings.TIME_ZONE}
        )
        if created:
            BusinessHours.objects.bulk_create(
                BusinessHours(calendar=calendar, weekday=day, start=time(8), end=time(18))
                for day in range(5)
            )
        policy, created = SLAPolicy.objects.get_or_create(
            name="Standard", defaults={"calendar": calendar, "warn_before_minutes": 60}
        )
        if created:
            SLATarget.objects.bulk_create(
                SLATarget(policy=policy, priority=priority, first_response_minutes=first,
                          resolution_minutes=resolve)
                for priority, first, resolve in SLA_TARGETS
            )  # fmt: skip
        return policy

    def _canned_responses(self, queue):
        for title, body in CANNED_RESPONSES:
            CannedResponse.objects.get_or_create(title=title, defaults={"body": body})

    def _projects(self, users):
        today = timezone.localdate()
        vpn, created = Project.objects.get_or_create(
            key="VPN",
            defaults={
                "name": "VPN replacement",
                "slug": "vpn-replacement",
                "description": "Replace the ageing VPN concentrators with the new "
                "always-on client for all staff.\n\n**Callers:** the old VPN keeps working "
                "until the cut-over date below.",
                "owner": users["pm"],
                "liaison": users["agent"],
                "status": Project.Status.ACTIVE,
                "health": Project.Health.AT_RISK,
                "visibility": Project.Visibility.STAKEHOLDERS,
                "start_date": today - timedelta(days=60),
                "target_date": today + timedelta(days=45),
            },
        )
        if created:
            vpn.stakeholders.add(users["stakeholder"])
            self._milestones(vpn, VPN_MILESTONES)
        wifi, created = Project.objects.get_or_create(
            key="WIFI",
            defaults={
                "name": "Office Wi-Fi upgrade",
                "slug": "office-wifi-upgrade",
                "description": "New access points on every floor.",
                "owner": users["pm"],
                "liaison": users["agent"],
                "status": Project.Status.ACTIVE,
                "health": Project.Health.ON_TRACK,
                "visibility": Project.Visibility.PUBLIC,
                "start_date": today - timedelta(days=10),
                "target_date": today + timedelta(days=80),
            },
        )
        if created:
            self._milestones(wifi, WIFI_MILESTONES)
        Project.objects.get_or_create(
            key="ERP",
            defaults={
                "name": "ERP upgrade (planning)",
                "slug": "erp-upgrade",
                "owner": users["pm"],
                "status": Project.Status.PROPOSED,
                "visibility": Project.Visibility.PRIVATE,
            },
        )
        for project in (vpn, wifi):
            if not project.columns.exists():
                Column.objects.bulk_create(
                    Column(project=project, name=name, position=i, wip_limit=limit, is_done=done)
                    for i, (name, limit, done) in enumerate(project_services.DEFAULT_COLUMNS)
                )
            project.members.add(users["pm"], users["agent"])
        if created or not vpn.tasks.exists():
            self._plan(vpn, users)
        return {"VPN": vpn, "WIFI": wifi}

    def _plan(self, project, users):
        """A small real plan: cards across the board, dependencies, a risk, an update."""
        if project.tasks.exists():
            return
        columns = {column.name: column for column in project.columns.all()}
        milestones = {m.name: m for m in project.milestones.all()}
        tasks = {}
        for title, column, assignee, hours, milestone in VPN_TASKS:
            tasks[title] = project_services.task_create(
                project=project,
                title=title,
                column=columns[column],
                assignee=users[assignee],
                estimate_hours=hours,
                milestone=milestones.get(milestone),
                actor=users["pm"],
            )
        for before, after in VPN_DEPENDENCIES:
            project_services.dependency_add(
                predecessor=tasks[before], successor=tasks[after], actor=users["pm"]
            )
        project_services.risk_save(
            project=project,
            actor=users["pm"],
            title="Old concentrators fail before the cut-over",
            probability=2,
            impact=5,
            owner=users["pm"],
            mitigation="Spare unit on site; support contract extended to the end of the quarter.",
        )
        project_services.status_update_publish(
            project=project,
            health=Project.Health.AT_RISK,
            summary="Pilot went well. The client roll-out **slipped two weeks**: the packaging "
            "team found a certificate issue. Cut-over moves with it.",
            actor=users["pm"],
        )

    def _milestones(self, project, plan):
        today = timezone.localdate()
        Milestone.objects.bulk_create(
            Milestone(
                project=project,
                name=name,
                kind=kind,
                baseline_date=today + timedelta(days=baseline),
                target_date=today + timedelta(days=target),
                completed_at=timezone.now() + timedelta(days=target) if target < 0 else None,
            )
            for name, kind, baseline, target in plan
        )

    def _bridge(self, users, queues, projects):
        """Which queues hear about which project, words callers use, the help desk's own
        go-live beside each go-live, and what the liaison wants agents to say."""
        vpn, wifi = projects["VPN"], projects["WIFI"]
        queues["service-desk"].projects.add(vpn, wifi)
        queues["network"].projects.add(vpn)
        Project.objects.filter(pk=vpn.pk).update(keywords="VPN, remote access, AnyConnect")
        Project.objects.filter(pk=wifi.pk).update(keywords="Wi-Fi, wifi, wireless, access point")
        for go_live in Milestone.objects.filter(
            kind=Milestone.Kind.GO_LIVE, completed_at__isnull=True, paired_helpdesk_go_live=None
        ):
            project_services.helpdesk_go_live_pair(go_live)
        ProjectDesk.objects.update_or_create(
            project=vpn,
            defaults={
                "tell_callers": "The new VPN client reaches every laptop before the cut-over; "
                "the old VPN keeps working until then. No action is needed from the caller.",
                "workaround": "If the old VPN drops, reconnect from the tray icon; it keeps "
                "working until the cut-over.",
                "workaround_public": True,
            },
        )
        Ticket.objects.filter(subject="When does the new VPN arrive?").update(
            keep_requester_informed=True
        )
        cutover = vpn.milestones.get(kind=Milestone.Kind.GO_LIVE)
        project_services.milestone_reschedule(
            milestone=cutover,
            target_date=cutover.target_date + timedelta(days=7),
            reason="Certificate issue found by the packaging team; the roll-out slipped.",
            actor=users["pm"],
        )

    def _tickets(self, users, queues, projects):
        if Ticket.objects.exists():
            return
        for queue, subject, email, name, status, priority, kind, source in TICKETS:
            ticket = ticket_create(
                queue=queues[queue],
                subject=subject,
                requester_email=email,
                requester_name=name,
                description=f"{subject}.\n\nPlease help, thanks.\n{name}",
                source=source,
                priority=priority,
                type=kind,
                acknowledge=False,
            )
            changes = {"status": status}
            if status != "new":
                changes["assignee"] = users["agent"]
            ticket_update(ticket=ticket, actor=users["agent"], version=None, **changes)
            for key, words in (("VPN", "VPN"), ("WIFI", "Wi-Fi")):
                if words in subject:
                    ticket_link(ticket=ticket, actor=users["agent"], project=projects[key])
            # Age the demo tickets so triage shows SLA states: some breached, some due soon.
            age = timedelta(hours=DEMO_AGE_HOURS.get(subject, 1))
            Ticket.objects.filter(pk=ticket.pk).update(
                created_at=F("created_at") - age,
                first_response_due=F("first_response_due") - age,
                resolution_due=F("resolution_due") - age,
            )
