"""Suggestions ("did you mean ...?"): the known names closest to a misspelt one.

Pure: no I/O, no clock, no logging.

Used for preset names (``phi-4-mini`` -> ``phi-4-mini-instruct``), instance types
(``Standard_NC24ads_A100_v5`` -> ``Standard_NC24ads_A100_v4``), field names (``instanceTyep`` ->
``instanceType``) and kinds (``WorkSpace`` -> ``Workspace``). Names are compared without regard
to case with `difflib`'s ratio; a known name that *starts with* the word given (a suffix left
off, as in ``phi-4-mini``) ranks above any other, and only names about as close as the best are
offered beside it. Ties go to the shorter, then the alphabetically
first name, so the answer never depends on the order of the candidates.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["DEFAULT_CUTOFF", "closest", "did_you_mean"]

#: The least `difflib` ratio a name needs to be suggested (``nmae`` ~ ``name`` is 0.75).
DEFAULT_CUTOFF = 0.6
#: How far below the best ratio another name may be and still be suggested beside it.
_MARGIN = 0.1
#: Words longer than this are not compared (a 100 KB value is not a misspelt name).
_MAX_WORD = 256


def _score(word: str, candidate: str) -> float:
    if len(word) >= 3 and candidate.startswith(word) and candidate != word:
        return 1.0 + len(word) / len(candidate)  # a suffix left off: always first
    return difflib.SequenceMatcher(None, word, candidate, autojunk=False).ratio()


def closest(
    word: str, candidates: Iterable[str], *, limit: int = 1, cutoff: float = DEFAULT_CUTOFF
) -> tuple[str, ...]:
    """Up to `limit` of `candidates` most like `word`, best first, as the candidates spell them
    (none equal to `word` in any case, none scoring under `cutoff`).

    Pure: no I/O, no clock, no logging.
    """
    wanted = word.lower()
    if not wanted or len(wanted) > _MAX_WORD:
        return ()
    scored: dict[str, tuple[float, str]] = {}
    for candidate in candidates:
        lowered = candidate.lower()
        if lowered == wanted or not lowered or lowered in scored:
            continue
        score = _score(wanted, lowered)
        if score >= cutoff:
            scored[lowered] = (score, candidate)
    ranked = sorted(scored.values(), key=lambda item: (-item[0], len(item[1]), item[1]))
    if not ranked:
        return ()
    best = ranked[0][0]
    # Only names about as good as the best: every name the word is the start of, else those
    # within _MARGIN of the best ratio (``phi-4-mini`` suggests phi-4-mini-instruct, not phi-4).
    floor = 1.0 if best >= 1.0 else best - _MARGIN
    return tuple(candidate for score, candidate in ranked[: max(0, limit)] if score >= floor)


def did_you_mean(names: Iterable[str]) -> str:
    """``did you mean a?``, ``did you mean a or b?``, ``did you mean a, b or c?``; ``""`` for
    no names.

    Pure: no I/O, no clock, no logging.
    """
    shown = list(names)
    if not shown:
        return ""
    if len(shown) == 1:
        return f"did you mean {shown[0]}?"
    return f"did you mean {', '.join(shown[:-1])} or {shown[-1]}?"
