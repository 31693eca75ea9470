"""What a checkpoint costs: its size per case stream and per event recorded, on a store of `--cases`
cases (default 300).

A checkpoint (store/checkpoints.py, format 3) signs every stream's head and records the hash of each
event new since the previous checkpoint of its key. The store is filled as bench/audit_speed.py
fills it (the standard journey, decided and appended through `EventStore.append`, no Temporal);
then, as the schedule would make them:

1. the first checkpoint, which records every event;
2. `--hourly` more cases' journeys (default 30: an hour of a busy site), then the next checkpoint,
   which records only their events;
3. nothing new, then the next: heads only.

Each is measured as the signed text (what the signature covers, compact JSON) and as the delivered
file (indented JSON, what the directory and the email attachment hold), beside the same checkpoint
without its event hashes (what format 2 signed), so that the difference over the events recorded is
the cost per event alone. No Temporal, a SQLite store in a temporary directory.

    .venv/bin/python -m bench.checkpoint_size [--cases 300] [--hourly 30]

Prints the figures and appends a row to bench/results/checkpoint_size.csv.
"""

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.audit_speed import fill_store
from bench.support import new_key_ring, write_row
from store.checkpoints import Checkpoint, Checkpoints, SigningKey, ToSign
from store.event_store import EventStore
from store.person_keys import PersonKeys
from workers.settings import SHIPPED_CONFIG, load_config

KEY = SigningKey.parse(SigningKey.new_key_text())


def sizes(to_sign: ToSign) -> tuple[int, int, int, int, int]:
    """Events recorded; signed and file bytes with the event hashes; the same without them."""
    now = datetime.now(UTC)
    whole = to_sign.sign(KEY, "pathway-checkpoints", now)
    heads_only = Checkpoint.sign(to_sign.heads, KEY, "pathway-checkpoints", now, to_sign.access_heads)
    events = sum(len(run.hashes) for run in (*to_sign.events, *to_sign.access_rows))
    return (
        events,
        len(whole.signed_text.encode()),
        len(whole.to_json().encode()),
        len(heads_only.signed_text.encode()),
        len(heads_only.to_json().encode()),
    )


async def main(cases: int, hourly: int) -> None:
    config = load_config(SHIPPED_CONFIG)
    master, _ = new_key_ring("bench-checkpoints")
    figures: dict[str, object] = {"cases": cases, "hourly_cases": hourly}
    with tempfile.TemporaryDirectory() as folder:
        store = EventStore.connect(f"sqlite+aiosqlite:///{Path(folder) / 'pathway.db'}")
        await store.migrate()
        keys, case_id_key = PersonKeys(store.engine, master), b"bench-checkpoint-size"
        try:
            filled = await fill_store(store, keys, config, case_id_key, 0, cases)
            checkpoints = Checkpoints(store.engine)
            first_read = await checkpoints.to_sign(None)
            first = first_read.sign(KEY, "pathway-checkpoints", datetime.now(UTC))
            await fill_store(store, keys, config, case_id_key, cases, hourly)
            next_read = await checkpoints.to_sign(first)
            idle_read = await checkpoints.to_sign(next_read.sign(KEY, "pathway-checkpoints", datetime.now(UTC)))
            runs = {"first": first_read, "next": next_read, "idle": idle_read}
        finally:
            await store.close()
    print(f"{cases} cases ({filled} events, {filled / cases:.0f} a case), then {hourly} more")
    print(
        f"{'checkpoint':<10} {'streams':>8} {'events':>7} {'signed B':>10} {'file B':>10} "
        f"{'B/event signed':>15} {'file':>6}"
    )
    for name, read in runs.items():
        events, signed, file, signed_heads, file_heads = sizes(read)
        per_signed = (signed - signed_heads) / events if events else 0.0
        per_file = (file - file_heads) / events if events else 0.0
        print(
            f"{name:<10} {len(read.heads):>8} {events:>7} {signed:>10} {file:>10} {per_signed:>15.1f} {per_file:>6.1f}"
        )
        figures |= {
            f"{name}_streams": len(read.heads),
            f"{name}_events": events,
            f"{name}_signed_bytes": signed,
            f"{name}_file_bytes": file,
            f"{name}_signed_bytes_per_event": round(per_signed, 1),
            f"{name}_file_bytes_per_event": round(per_file, 1),
            f"{name}_file_bytes_per_stream_head": round(file_heads / max(len(read.heads), 1), 1),
        }
    print(f"results appended to {write_row('checkpoint_size', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--hourly", type=int, default=30)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.hourly))
