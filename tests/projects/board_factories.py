"""Factories for boards: columns, cards and dependencies, written straight to the tables
(no rescheduling), and `board_of(project)` for the usual four columns.

Use the services (task_create, task_move) where the behaviour under test is theirs; use
these to lay out a board quickly, e.g. 500 cards for a query count.
"""

import itertools

import factory

from projects.models import Column, Dependency, Task
from projects.ranking import initial_ranks
from tests import factories

# (name, WIP limit, done): the columns projects.services.project_create makes.
COLUMNS = (("To do", None, False), ("In progress", 5, False), ("Review", 3, False),
           ("Done", None, True))  # fmt: skip

_ranks = itertools.count(1)


def next_rank() -> str:
    """Ranks that sort in creation order, fixed width, never ending in "0"."""
    return f"i{next(_ranks):07d}1"


class ColumnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Column

    project = factory.SubFactory(factories.ProjectFactory)
    name = factory.Sequence(lambda n: f"Column {n}")
    position = factory.Sequence(lambda n: n)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    column = factory.SubFactory(ColumnFactory)
    project = factory.SelfAttribute("column.project")
    title = factory.Sequence(lambda n: f"Task {n}")
    rank = factory.LazyFunction(next_rank)


class DependencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dependency

    predecessor = factory.SubFactory(TaskFactory)
    successor = factory.SubFactory(
        TaskFactory, column=factory.SelfAttribute("..predecessor.column")
    )


def board_of(project, columns=COLUMNS) -> list[Column]:
    """The project's columns, in order: To do, In progress (WIP 5), Review (WIP 3), Done."""
    return Column.objects.bulk_create(
        Column(project=project, name=name, position=index, wip_limit=limit, is_done=done)
        for index, (name, limit, done) in enumerate(columns)
    )


def fill(columns, count: int, *, assignees=(), milestones=(), labels=()) -> list[Task]:
    """`count` cards spread over `columns` in one INSERT, cycling through the given
    assignees, milestones and label sets so every card has some of each."""
    project = columns[0].project
    ranks = initial_ranks(count)
    cycle = lambda values: itertools.cycle(values or [None])  # noqa: E731
    people, stones, tags = cycle(assignees), cycle(milestones), cycle(labels)
    return Task.objects.bulk_create(
        Task(
            project=project,
            column=columns[index % len(columns)],
            title=f"Card {index + 1}",
            rank=ranks[index],
            assignee=next(people),
            milestone=next(stones),
            labels=list(next(tags) or []),
            estimate_hours=4,
        )
        for index in range(count)
    )
