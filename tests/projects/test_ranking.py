import random

import pytest

from projects.ranking import initial_ranks, rank_between


def test_appending_a_thousand_cards_keeps_ranks_short():
    ranks = initial_ranks(1000)
    assert ranks == sorted(ranks)
    assert max(map(len, ranks)) == 6


def test_prepending_a_thousand_cards_keeps_ranks_short():
    first = rank_between(None, None)
    ranks = [first]
    for _ in range(1000):
        ranks.insert(0, rank_between(None, ranks[0]))
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == 1001
    assert max(map(len, ranks)) <= 8


def test_random_moves_always_land_between_their_neighbours():
    rng = random.Random(7)
    ranks = initial_ranks(20)
    for _ in range(5000):
        ranks.pop(rng.randrange(len(ranks)))
        index = rng.randint(0, len(ranks))
        before = ranks[index - 1] if index else None
        after = ranks[index] if index < len(ranks) else None
        new = rank_between(before, after)
        assert (before is None or before < new) and (after is None or new < after)
        assert not new.endswith("0")
        ranks.insert(index, new)
    assert ranks == sorted(ranks)
    assert max(map(len, ranks)) <= 64


def test_moving_between_adjacent_cards_repeatedly_stays_within_the_column_width():
    low, high = initial_ranks(2)
    for _ in range(200):
        high = rank_between(low, high)
    assert low < high
    assert len(high) <= 64


def test_wrong_order_is_refused():
    with pytest.raises(ValueError):
        rank_between("j", "i")
