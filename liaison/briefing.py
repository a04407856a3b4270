"""What the help desk should know and say about a project right now: one place that turns
the plan into the words on bulletins, answer cards and caller e-mails."""

from dataclasses import dataclass, field
from datetime import date

from projects.models import Milestone, MilestoneSlip, Project

# Slips shown on a bulletin or answer card; older ones are on the project's pages.
SLIPS_SHOWN = 5


def human_date(day: date | None) -> str:
    return f"{day:%a %-d %b %Y}" if day else "not yet dated"


@dataclass
class Briefing:
    project: Project
    milestone: Milestone | None
    slips: list[dict] = field(default_factory=list)
    tell_callers: str = ""
    tell_callers_is_default: bool = True
    workaround: str = ""
    workaround_public: bool = False

    @property
    def forecast_date(self) -> date | None:
        return self.milestone.expected_date if self.milestone else None

    @property
    def baseline_date(self) -> date | None:
        return self.milestone.baseline_date if self.milestone else None

    @property
    def slip_days(self) -> int | None:
        return self.milestone.slip_days if self.milestone else None

    @property
    def title(self) -> str:
        project = self.project
        if self.milestone is None:
            return f"{project.name}: {project.get_health_display()}"
        return f"{project.name}: {self.milestone.name} expected {human_date(self.forecast_date)}"


def default_answer(project: Project, milestone: Milestone | None) -> str:
    """What an agent can say to a caller when the liaison has written nothing: plain,
    dated, and honest about slips."""
    if project.status in (Project.Status.DONE, Project.Status.CANCELLED):
        return f"{project.name} is {project.get_status_display().lower()}."
    if milestone is None:
        return f"{project.name} is {project.get_health_display().lower()}; no date is set yet."
    answer = (
        f"{milestone.name} for {project.name} is expected on {human_date(milestone.expected_date)}."
    )
    if milestone.slip_days > 0:
        answer += f" That is later than first planned ({human_date(milestone.baseline_date)})."
    if project.health in (Project.Health.AT_RISK, Project.Health.OFF_TRACK):
        answer += " The date is not certain yet; we will tell you if it moves."
    return answer


# The IT side's own milestones: agents see them on the project's pages, but "when?" from
# a caller is about the project's milestones.
INTERNAL_KINDS = (Milestone.Kind.HELPDESK_GO_LIVE, Milestone.Kind.HANDOVER)


def next_milestone(project: Project, milestone_id: int | None = None) -> Milestone | None:
    """The milestone callers ask about: `milestone_id` if given and open, else the open
    one expected soonest, preferring those callers notice over the IT side's own."""
    open_ones = list(project.milestones.filter(completed_at__isnull=True))
    if milestone_id is not None:
        for milestone in open_ones:
            if milestone.pk == milestone_id:
                return milestone
    visible = [m for m in open_ones if m.kind not in INTERNAL_KINDS] or open_ones
    return min(visible, key=lambda m: (m.expected_date, m.pk), default=None)


def briefing_for(project: Project, milestone_id: int | None = None) -> Briefing:
    """The project's briefing: a fixed handful of queries whatever its size."""
    from liaison.models import ProjectDesk

    milestone = next_milestone(project, milestone_id)
    desk = ProjectDesk.objects.filter(project=project).first()
    slips = []
    if milestone is not None:
        slips = [
            {
                "old": slip.old_date.isoformat(),
                "new": slip.new_date.isoformat(),
                "reason": slip.reason,
                "at": slip.created_at.isoformat(),
            }
            for slip in MilestoneSlip.objects.filter(milestone=milestone)[:SLIPS_SHOWN]
        ]
    custom = desk.tell_callers.strip() if desk else ""
    return Briefing(
        project=project,
        milestone=milestone,
        slips=slips,
        tell_callers=custom or default_answer(project, milestone),
        tell_callers_is_default=not custom,
        workaround=desk.workaround if desk else "",
        workaround_public=desk.workaround_public if desk else False,
    )
