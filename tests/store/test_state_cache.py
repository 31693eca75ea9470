"""Appends and commands fold only the events after the state kept from the last append or read; the
result must always equal a fresh fold of every stored event."""

from pathlib import Path

from domain.state import CaseState, empty_state
from domain.tasks import TaskKind
from store.event_store import EventStore
from store.recorder import Appended
from store.state_cache import StateCache
from tests.store.support import CONSENT_GIVEN, SCREENING, StoreCase


async def test_an_append_says_whether_it_wrote(store: EventStore) -> None:
    case = StoreCase(store)
    opened = case.envelopes_for(case.open_command())

    assert await store.append_reporting(case.case_id, opened) == Appended(version=len(opened), written=True)
    assert await store.append_reporting(case.case_id, opened) == Appended(version=len(opened), written=False)


async def test_the_current_state_equals_a_fresh_fold_as_the_case_goes_on(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    for kind, outcome in ((TaskKind.CONSENT, CONSENT_GIVEN), (TaskKind.SCREENING, SCREENING)):
        await case.complete(kind, outcome)
        assert await store.current_state(case.case_id) == await store.case_state(case.case_id) == case.state
    assert (await store.current_state(case.case_id)).version == len(case.envelopes)
    assert await store.projection_differences(case.case_id) == []


async def test_events_another_process_wrote_are_folded_in(store: EventStore, backend: str, tmp_path: Path) -> None:
    # A second EventStore on the same database is another process: its appends bypass our kept state.
    url = str(store.engine.url) if backend == "postgres" else f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    other = EventStore.connect(url)
    try:
        case = StoreCase(store)
        await case.open()
        kept = await store.current_state(case.case_id)
        case.store = other
        await case.complete(TaskKind.CONSENT, CONSENT_GIVEN)
        case.store = store
        await case.complete(TaskKind.SCREENING, SCREENING)  # appended on top of the kept state
    finally:
        await other.close()

    assert (await store.current_state(case.case_id)).version > kept.version
    assert await store.current_state(case.case_id) == await store.case_state(case.case_id) == case.state
    assert await store.projection_differences(case.case_id) == []


def test_an_older_state_never_replaces_a_newer_one() -> None:
    cache = StateCache()
    newer = CaseState(case_id="case-1", version=5)
    cache.put(newer)
    cache.put(empty_state("case-1"))
    assert cache.get("case-1") == newer


def test_the_least_recently_used_case_is_dropped_first() -> None:
    cache = StateCache(cases=2)
    for case_id in ("case-1", "case-2"):
        cache.put(empty_state(case_id))
    cache.get("case-1")
    cache.put(empty_state("case-3"))
    assert cache.get("case-2") is None
    assert cache.get("case-1") is not None and cache.get("case-3") is not None
