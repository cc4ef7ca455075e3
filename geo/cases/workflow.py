"""A case's lifecycle: who may do what to a case in which state, and what its problem shows.

A case is the hand-off of one problem to one office at a time. The table below is the whole
rule: (state, action) gives the next state, and each action names the roles that may take it.
Whether a caller acts *for the case's office* (an agency officer of that office, or the district
team for the cases it works itself) is the storage layer's check; this module says which roles
may ever take an action.

A rejected case is never left there: rejection is followed, in the same transaction, by a
``route`` to the suggested office or back to the district team's queue. ``verified`` and
``closed_unsolved`` are terminal: only ``reopen`` leaves them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

from geo.errors import ForbiddenError, InvalidInputError
from geo.vocab import SOLVED, Status

State = Literal[
    "new",
    "referred",
    "acknowledged",
    "in_progress",
    "resolved",
    "verified",
    "rejected",
    "reopened",
    "closed_unsolved",
]
#: A case's states, in the order a case usually goes through them.
STATES: tuple[State, ...] = get_args(State)
Action = Literal[
    "route",
    "acknowledge",
    "progress",
    "resolve",
    "verify",
    "reject",
    "reopen",
    "close",
    "escalate",
    "comment",
]
ACTIONS: tuple[Action, ...] = get_args(Action)
#: The states only ``reopen`` leaves.
TERMINAL: frozenset[State] = frozenset({"verified", "closed_unsolved"})
RejectionReason = Literal[
    "not_our_mandate", "wrong_area", "duplicate", "insufficient_information", "other"
]
#: Why an office may refuse a case (with a text, and a suggested office).
REJECTION_REASONS: tuple[RejectionReason, ...] = get_args(RejectionReason)
#: How a resolved case was solved (the statuses of ``geo.vocab.SOLVED``).
Resolution = Literal["solved_by_agency", "solved_by_household"]

_OPEN: tuple[State, ...] = (
    "new",
    "referred",
    "acknowledged",
    "in_progress",
    "rejected",
    "reopened",
)
_WORKING: tuple[State, ...] = ("referred", "acknowledged", "in_progress")

#: (state, action) → the next state. ``escalate`` climbs the ladder of the administration and
#: leaves the state as it is: the office stays responsible.
TRANSITIONS: Mapping[tuple[State, Action], State] = {
    ("new", "route"): "referred",
    ("rejected", "route"): "referred",
    ("reopened", "route"): "referred",
    # The district team hands a case on to another office (routing corrected).
    **{(state, "route"): "referred" for state in _WORKING},
    ("referred", "acknowledge"): "acknowledged",
    ("acknowledged", "progress"): "in_progress",
    ("in_progress", "progress"): "in_progress",
    ("acknowledged", "resolve"): "resolved",
    ("in_progress", "resolve"): "resolved",
    ("resolved", "verify"): "verified",
    **{(state, "reject"): "rejected" for state in _WORKING},
    ("resolved", "reopen"): "reopened",
    ("verified", "reopen"): "reopened",
    ("closed_unsolved", "reopen"): "reopened",
    **{(state, "close"): "closed_unsolved" for state in (*_OPEN, "resolved")},
    **{(state, "escalate"): state for state in _WORKING},
    # An update in words (the household's, the office's, the team's): the state stays. Not on
    # a rejected case, which is routed on in the same transaction.
    **{(state, "comment"): state for state in (*_OPEN, "resolved") if state != "rejected"},
}

#: The roles that may take each action (``system``: the platform's own jobs).
ROLES: Mapping[Action, frozenset[str]] = {
    "route": frozenset({"officer", "governor", "admin", "system"}),
    "acknowledge": frozenset({"agency_officer", "officer", "admin"}),
    "progress": frozenset({"agency_officer", "officer", "admin"}),
    "resolve": frozenset({"agency_officer", "officer", "admin"}),
    "reject": frozenset({"agency_officer", "officer", "admin"}),
    "verify": frozenset({"officer", "community_leader", "citizen", "admin"}),
    "reopen": frozenset({"officer", "community_leader", "citizen", "reviewer", "admin"}),
    "close": frozenset({"officer", "admin"}),
    "escalate": frozenset({"system", "admin"}),
    "comment": frozenset({"citizen", "community_leader", "officer", "agency_officer", "admin"}),
}


def allowed(state: State, role: str) -> list[Action]:
    """The actions ``role`` may take on a case in ``state``, in the order of ``ACTIONS``."""
    return [a for a in ACTIONS if (state, a) in TRANSITIONS and role in ROLES[a]]


def next_state(state: State, action: Action, role: str) -> State:
    """The state a case moves to when ``role`` takes ``action`` on it in ``state``.

    Raises
    ------
    ForbiddenError
        If the role may never take the action.
    InvalidInputError
        If the action cannot be taken in this state (the message lists what can).
    """
    if role not in ROLES[action]:
        raise ForbiddenError(f"role {role} may not {action} a case")
    found = TRANSITIONS.get((state, action))
    if found is None:
        possible = [a for a in ACTIONS if (state, a) in TRANSITIONS]
        raise InvalidInputError(
            f"action: a case that is {state} cannot be {action}d; it can be: "
            + ", ".join(possible),
            field="action",
        )
    return found


def problem_status(state: State, resolution: Status | None = None) -> Status:
    """The status the case's problem shows, so that roll-ups and maps follow the case.

    Parameters
    ----------
    state
        The case's state.
    resolution
        How it was solved (one of ``SOLVED``), for a resolved or verified case.

    Raises
    ------
    InvalidInputError
        If a resolved or verified case has no resolution.
    """
    if state in ("resolved", "verified"):
        if resolution not in SOLVED:
            raise InvalidInputError(
                f"resolution: one of {', '.join(SOLVED)} is needed for a {state} case",
                field="resolution",
            )
        return resolution
    statuses: dict[str, Status] = {
        "new": "open",
        "reopened": "open",
        "referred": "referred",
        "rejected": "referred",
        "acknowledged": "in_progress",
        "in_progress": "in_progress",
        "closed_unsolved": "closed_unsolved",
    }
    return statuses[state]
