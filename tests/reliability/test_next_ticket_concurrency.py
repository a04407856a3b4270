"""'Next ticket' under concurrency: agents pressing it at the same moment each get a
different ticket, none waits for another's lock, and none gets nothing while tickets wait."""

import threading

import pytest
from django.db import connection

from helpdesk.services import ticket_take_next
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_agents_each_get_a_different_ticket(queue):
    agents = [factories.AgentFactory() for _ in range(6)]
    queue.members.add(*agents)
    factories.TicketFactory.create_batch(6, queue=queue)
    barrier = threading.Barrier(len(agents))
    taken, errors = {}, []

    def press_next(agent):
        try:
            barrier.wait(timeout=10)
            ticket = ticket_take_next(agent=agent)
            taken[agent.pk] = ticket.pk if ticket else None
        except Exception as exc:  # collected and reported below, with the thread's view
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=press_next, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert None not in taken.values()
    assert len(set(taken.values())) == len(agents)
