"""What every reliability test asserts about the streams it leaves behind."""

from domain.model import Stage
from store.event_store import EventStore


async def assert_stream_whole(store: EventStore, case_id: str, task_completions: int, closed: bool = True) -> None:
    """Seq 1..n, one CaseOpened (and one CaseClosed, last, if `closed`), `task_completions`
    TaskCompleted, no event id twice, the chain verifies and the projections equal a fresh fold."""
    events = await store.read_stream(case_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), case_id
    types = [e.event.type for e in events]
    assert types.count("CaseOpened") == 1 and types[0] == "CaseOpened", types
    if closed:
        assert types.count("CaseClosed") == 1 and types[-1] == "CaseClosed", types
    else:
        assert "CaseClosed" not in types, types
    assert types.count("TaskCompleted") == task_completions, types
    assert len({e.event_id for e in events}) == len(events), f"duplicate event ids in {case_id}"
    report = await store.verify_chain(case_id)
    assert report.ok, report
    assert await store.projection_differences(case_id) == []
    record = await store.get_case(case_id)
    assert record is not None
    if closed:
        assert record.stage == Stage.CLOSED
