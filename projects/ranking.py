"""Ranks: strings that sort between their neighbours, so a card moves by rewriting itself.

A column's cards sort by `rank` (byte order). To put a card between two others it gets a
string that sorts between theirs; no other card changes. Appending or prepending steps a
fixed-width rank by one, so a column can take about a billion cards at either end before
a rank grows; inserting between two cards halves their gap, one character per few moves.

No rank ends in the lowest digit "0": between "i" and "i0" there is no string at all, so
such a rank would close a gap for good.
"""

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
BASE = len(DIGITS)
FIRST = "i00001"  # the first card of an empty column: room on both sides


def _halve(low: str, high: str | None) -> str:
    """A rank between `low` ("" = the start) and `high` (None = the end), built digit by
    digit: copy the shared prefix, then take the middle of the first open gap."""
    result = []
    index = 0
    while True:
        lo = DIGITS.index(low[index]) if index < len(low) else 0
        hi = (DIGITS.index(high[index]) if index < len(high) else 0) if high is not None else BASE
        if hi - lo > 1:
            result.append(DIGITS[(lo + hi) // 2])
            return "".join(result)
        result.append(DIGITS[lo])
        if hi > lo:  # from here on anything sorts below `high`
            high = None
        index += 1


def _step(rank: str, delta: int) -> str | None:
    """`rank` moved one place up or down at the same width, skipping ranks that end in
    "0"; None when that runs past the first or last rank of this width."""
    digits = [DIGITS.index(ch) for ch in rank]
    while True:
        index = len(digits) - 1
        while index >= 0:
            digits[index] += delta
            if 0 <= digits[index] < BASE:
                break
            digits[index] %= BASE
            index -= 1
        if index < 0:
            return None
        if digits[-1] != 0:
            return "".join(DIGITS[d] for d in digits)


def rank_between(before: str | None, after: str | None) -> str:
    """A rank strictly between `before` and `after`; None means the start or the end."""
    if before is not None and after is not None and not before < after:
        raise ValueError(f"{before!r} does not sort before {after!r}")
    if before is None and after is None:
        return FIRST
    if after is None:
        return _step(before, +1) or _halve(before, None)
    if before is None:
        stepped = _step(after, -1)
        return stepped if stepped is not None and stepped < after else _halve("", after)
    return _halve(before, after)


def initial_ranks(count: int) -> list[str]:
    """`count` ranks in order, for a fresh column."""
    ranks, previous = [], None
    for _ in range(count):
        previous = rank_between(previous, None)
        ranks.append(previous)
    return ranks
