"""The last folded state of recently written cases, so an append or a command folds only the new events.

A stream only grows, so the fold of its first n events never changes: the cached state at version n,
plus the events after n, is the fold of the whole stream. Only states that were read or committed go
in; the store looks up the stream's head before trusting an entry (see EventStore.current_state).
Audits never use it: they fold afresh from the stored rows (EventStore.case_state).
"""

from collections import OrderedDict

from domain.state import CaseState

# A CaseState is a few kB; 2,000 of them stay well inside a worker's memory budget.
DEFAULT_CASES = 2_000


class StateCache:
    def __init__(self, cases: int = DEFAULT_CASES) -> None:
        self._cases = cases
        self._states: OrderedDict[str, CaseState] = OrderedDict()

    def get(self, case_id: str) -> CaseState | None:
        state = self._states.get(case_id)
        if state is not None:
            self._states.move_to_end(case_id)
        return state

    def put(self, state: CaseState) -> None:
        """Keep `state` unless a newer one of the same case is already kept."""
        kept = self._states.get(state.case_id)
        if kept is not None and kept.version > state.version:
            return
        self._states[state.case_id] = state
        self._states.move_to_end(state.case_id)
        while len(self._states) > self._cases:
            self._states.popitem(last=False)

    def forget(self, case_id: str) -> None:
        self._states.pop(case_id, None)
