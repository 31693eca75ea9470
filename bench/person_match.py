"""Matching a new episode's person against a million people (issue 19): the blind index's lookup.

The store is filled with `--people` people as the append path leaves them: each one episode with its
`cases` row (`case_row(case_record(state))` of the opened case's folded state, under the episode's
own id), its person's `person_keys` row (a data key wrapped as `PersonKeys.ensure` wraps it) and its
three index entries, written by the insert `PersonIndex.add` uses (`insert_entries`), a batch of
people per transaction. Then `--probes` match decisions are timed, each one `PersonIndex.find` with
the three digests of a person: half of them people in the index, half not. The baseline beside them
is the least a lookup costs through the same engine: one `cases` row read by its primary key.
"""

import argparse
import asyncio
import hashlib
import hmac
import random
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.support import Comparison, new_key_ring, opening, percentile, print_table, write_row
from domain.decisions import DecisionContext
from domain.identity import case_id_for, person_id_for
from domain.person_match import MatchBasis
from domain.rules import decide
from domain.state import CaseState, empty_state
from domain.stream import apply_all, envelop
from store import schema
from store.event_store import EventStore
from store.keyring import KeyRing
from store.person_index import IndexHit, PersonIndex, entry_rows, insert_entries
from store.projections import case_record
from store.projector import case_row
from workers.settings import SHIPPED_CONFIG, load_config

CASE_ID_KEY = b"bench-case-id-key"
INDEX_KEY = secrets.token_bytes(32)
INDEX_KEY_ID = "bench-index-1"
TARGET_P99_MS = 50.0


def external_ref(number: int) -> str:
    return f"MATCH-{number:07d}"


def ids_of(number: int) -> tuple[str, str]:
    """Person `number`'s episode id and person id, derived as the workflow derives them."""
    case_id = case_id_for(CASE_ID_KEY, "demo", external_ref(number))
    return case_id, person_id_for(CASE_ID_KEY, case_id)


def digests_of(number: int) -> list[tuple[MatchBasis, str]]:
    """Person `number`'s three index digests (opaque here: keyed hashes of made-up details)."""
    return [
        (basis, hmac.new(INDEX_KEY, f"{basis}\x1f{number}".encode(), hashlib.sha256).hexdigest())
        for basis in MatchBasis
    ]


def opened_state() -> CaseState:
    """The folded state of a case just opened at the demo site, as the workflow decides it."""
    opened = opening(0, prefix="MATCH")
    context = DecisionContext(
        now=datetime.now(UTC), new_id=lambda: secrets.token_hex(16), site=load_config(SHIPPED_CONFIG).site("demo")
    )
    state = empty_state("case-template")
    return apply_all(state, envelop(state, decide(state, opened, context), opened.actor, context.now, context.new_id))


async def fill_batch(conn: AsyncConnection, template: CaseState, master: KeyRing, first: int, count: int) -> None:
    now = datetime.now(UTC)
    cases, keys, entries = [], [], []
    for number in range(first, first + count):
        case_id, person_id = ids_of(number)
        cases.append(case_row(case_record(template.model_copy(update={"case_id": case_id}))))
        master_id, wrapped = master.seal(secrets.token_bytes(32), person_id.encode())
        keys.append(
            {
                "person_id": person_id,
                "case_id": case_id,
                "master_key_id": master_id,
                "wrapped_key": wrapped,
                "created_at": now,
            }
        )
        entries += entry_rows(case_id, digests_of(number), INDEX_KEY_ID, now)
    await conn.execute(insert(schema.cases), cases)
    await conn.execute(insert(schema.person_keys), keys)
    await insert_entries(conn, entries)


async def fill(engine: AsyncEngine, people: int, batch: int) -> None:
    """Every person, `batch` people per transaction. On SQLite the fill alone runs without waiting for
    the disk and with a large page cache (the connection is closed after, so timing runs as shipped)."""
    template, (master, _) = opened_state(), new_key_ring("bench-master")
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("PRAGMA synchronous=OFF")
            await conn.exec_driver_sql("PRAGMA cache_size=-1000000")  # 1 GB
        await conn.commit()
        started = time.perf_counter()
        for first in range(0, people, batch):
            async with conn.begin():
                await fill_batch(conn, template, master, first, min(batch, people - first))
            if (first // batch) % 20 == 0:
                done = first + min(batch, people - first)
                print(f"  {done:,} people in {time.perf_counter() - started:.0f} s", flush=True)


async def index_bytes(engine: AsyncEngine) -> int:
    """The person_index table's size on disk with its indexes."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return int((await conn.execute(text("SELECT pg_total_relation_size('person_index')"))).scalar_one())
        query = text(
            "SELECT sum(pgsize) FROM dbstat WHERE name IN "
            "(SELECT name FROM sqlite_master WHERE tbl_name = 'person_index')"
        )
        return int((await conn.execute(query)).scalar_one())


async def timed(probes: int, lookup: Callable[[int], Awaitable[None]]) -> list[float]:
    """Milliseconds of each lookup; the first tenth (at least one) is a warm-up and not kept."""
    warm_up = max(1, probes // 10)
    samples = []
    for number in range(warm_up + probes):
        started = time.perf_counter()
        await lookup(number)
        if number >= warm_up:
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def main(people: int, probes: int, batch: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = url or f"sqlite+aiosqlite:///{Path(folder) / 'pathway.db'}"
        store = EventStore.connect(url)
        await store.migrate()
        backend = store.engine.dialect.name
        print(f"filling {people:,} people ({backend}, {batch:,} a transaction)", flush=True)
        started = time.perf_counter()
        await fill(store.engine, people, batch)
        fill_seconds = time.perf_counter() - started
        await store.close()

        store = EventStore.connect(url)  # fresh connections: the fill's pragmas are gone
        try:
            if backend == "postgresql":
                async with store.engine.connect() as conn:
                    await conn.execute(text("ANALYZE"))
                    await conn.commit()
            size = await index_bytes(store.engine)
            index = PersonIndex(store.engine)
            rng = random.Random(19)

            async def match(number: int) -> None:
                hit = number % 2 == 0  # every other decision is a person already in the index
                person = rng.randrange(people) if hit else people + number
                found = await index.find(digests_of(person))
                case_id, person_id = ids_of(person)
                expected = [IndexHit(case_id, person_id, basis) for basis in sorted(MatchBasis)] if hit else []
                assert found == expected, f"decision {number}: {len(found)} hits, {len(expected)} expected"

            async def read_case(number: int) -> None:
                case_id = ids_of(rng.randrange(people))[0]
                async with store.engine.connect() as conn:
                    query = select(schema.cases).where(schema.cases.c.case_id == case_id)
                    assert (await conn.execute(query)).one_or_none() is not None

            decisions = await timed(probes, match)
            reads = await timed(probes, read_case)
        finally:
            await store.close()

    p50, p95, p99 = (percentile(decisions, fraction) for fraction in (0.5, 0.95, 0.99))
    print()
    print_table(
        [
            Comparison("match decision p50", p50, percentile(reads, 0.5), "ms"),
            Comparison("match decision p95", p95, percentile(reads, 0.95), "ms"),
            Comparison("match decision p99", p99, percentile(reads, 0.99), "ms"),
        ]
    )
    print(f"\ntarget p99 < {TARGET_P99_MS:g} ms: {'met' if p99 < TARGET_P99_MS else 'NOT met'}")
    print(f"index size {size / 2**20:,.1f} MiB: {size / people:,.0f} bytes per person; fill {fill_seconds:,.0f} s")
    figures = {
        "backend": backend,
        "people": people,
        "probes": probes,
        "p50_ms": f"{p50:.2f}",
        "p95_ms": f"{p95:.2f}",
        "p99_ms": f"{p99:.2f}",
        "baseline_p50_ms": f"{percentile(reads, 0.5):.2f}",
        "baseline_p99_ms": f"{percentile(reads, 0.99):.2f}",
        "index_bytes": size,
        "bytes_per_person": f"{size / people:.0f}",
        "fill_s": f"{fill_seconds:.0f}",
    }
    print(f"\nrow written to {write_row('person_match', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=2_000, help="match decisions timed (half hits)")
    parser.add_argument("--batch", type=int, default=10_000, help="people written per transaction in the fill")
    parser.add_argument("--url", help="a PostgreSQL database to fill (default: a new SQLite file)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.people, arguments.probes, arguments.batch, arguments.url))
