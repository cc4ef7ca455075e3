"""A case's lifecycle: the transition table's promises, checked over random sequences of actions."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.access import ROLES as USER_ROLES
from geo.cases.workflow import (
    ACTIONS,
    ROLES,
    STATES,
    TERMINAL,
    TRANSITIONS,
    State,
    allowed,
    next_state,
    problem_status,
)
from geo.errors import ForbiddenError, InvalidInputError
from geo.vocab import STATUSES

EVERY_ROLE = (*USER_ROLES, "system")


@given(st.lists(st.tuples(st.sampled_from(EVERY_ROLE), st.sampled_from(ACTIONS)), max_size=60))
def test_random_actions_by_random_roles_only_take_the_tables_steps(
    steps: list[tuple[str, str]],
) -> None:
    state: State = "new"
    for role, action in steps:
        may = action in allowed(state, role)
        try:
            after = next_state(state, action, role)  # type: ignore[arg-type]
        except ForbiddenError:
            assert role not in ROLES[action]  # type: ignore[index]
            continue
        except InvalidInputError:
            assert (state, action) not in TRANSITIONS
            continue
        assert may and TRANSITIONS[(state, action)] == after  # type: ignore[index]
        if state in TERMINAL and after != state:
            assert action == "reopen"
        state = after
        assert state in STATES


def test_every_state_is_reachable_from_a_new_case() -> None:
    seen, todo = {"new"}, deque(["new"])
    while todo:
        state = todo.popleft()
        for (here, action), there in TRANSITIONS.items():
            if here == state and ROLES[action] and there not in seen:
                seen.add(there)
                todo.append(there)
    assert seen == set(STATES)


def test_terminal_states_are_left_only_by_reopen_and_no_other_state_is_a_dead_end() -> None:
    for state in STATES:
        leaving = {a for (s, a), there in TRANSITIONS.items() if s == state and there != state}
        if state in TERMINAL:
            assert leaving == {"reopen"}, state
        else:
            assert leaving, f"{state} is a dead end"
    # A rejected case goes on: to another office, or closed with a reason; nothing else.
    assert {a for (s, a) in TRANSITIONS if s == "rejected"} == {"route", "close"}


def test_every_action_belongs_to_some_role_and_every_role_exists() -> None:
    assert set(ROLES) == set(ACTIONS)
    for action, roles in ROLES.items():
        assert roles and roles <= set(EVERY_ROLE), action


def test_the_problem_follows_its_case() -> None:
    for state in STATES:
        if state in ("resolved", "verified"):
            with pytest.raises(InvalidInputError, match="resolution"):
                problem_status(state)
            assert problem_status(state, "solved_by_household") == "solved_by_household"
        else:
            assert problem_status(state) in STATUSES
    assert problem_status("new") == problem_status("reopened") == "open"
    assert problem_status("closed_unsolved") == "closed_unsolved"


def test_a_refused_step_says_what_can_be_done() -> None:
    with pytest.raises(InvalidInputError, match="it can be: route, close") as refused:
        next_state("new", "resolve", "agency_officer")
    assert refused.value.field == "action"
    with pytest.raises(ForbiddenError, match="citizen may not close"):
        next_state("in_progress", "close", "citizen")
