"""Closest-name suggestions for typos ("did you mean ...?")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``name``, or None when nothing is close.

    Ties between similar names (``glyphnet-46`` vs ``glyphnet-64``) are broken by comparing the
    sorted characters too, so transposed digits still find their match.
    """
    pool = list(candidates)
    if not pool:
        return None

    def score(candidate: str) -> float:
        direct = difflib.SequenceMatcher(None, name, candidate).ratio()
        anagram = difflib.SequenceMatcher(None, sorted(name), sorted(candidate)).ratio()
        return direct + 0.5 * anagram

    best = max(pool, key=score)
    return best if difflib.SequenceMatcher(None, name, best).ratio() >= 0.5 else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` or the empty string."""
    match = closest(name, candidates)
    return f"; did you mean '{match}'?" if match else ""
