"""People across episodes through the `pathway` CLI, on the real stack: the same NHS number links
episodes (another site's shows as "another service"), a name and date of birth open a person_match task
whose candidates name the earlier person, link and unlink by hand, refusals, and shredding a person
names the other episodes shredded with them."""

import json
import uuid
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from cli.exits import ExitStatus
from store.event_store import EventStore
from tests.cli.support import Completed, pathway
from tests.conftest import worker_for

NHS_NUMBER = "9434765919"
NOBODY = "person-00000000-0000-4000-8000-000000000000"


def succeeded(done: Completed) -> Completed:
    assert done.status == 0, (done.stdout, done.stderr)
    return done


async def test_people_across_episodes_through_the_cli(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    task_queue = f"cli-people-{uuid.uuid4()}"
    env = {
        "PATHWAY_DATA_DIR": str(tmp_path),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_ID_KEY": "cli-people-test-key",
    }
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()

    async def start(staff: str, site: str, *person: str) -> dict[str, Any]:
        started = await pathway(
            "case", "start", "--site", site, "--setting", "custody", "--source", "custody_staff",
            "--ref", f"CUST/{uuid.uuid4().hex[:8]}", "--age-band", "adult", *person, "--as", staff, "--json", env=env,
        )  # fmt: skip
        state: dict[str, Any] = succeeded(started).json()
        return state

    async with worker_for(temporal_env.client, store, task_queue):
        # The same NHS number links automatically, at the same site and at another.
        first = await start("pr-001", "demo", "--person-name", "Jo Bloggs", "--nhs-number", NHS_NUMBER)
        second = await start("pr-001", "demo", "--person-name", "Joanne Bloggs", "--nhs-number", NHS_NUMBER)
        north = await start("pr-002", "north", "--nhs-number", NHS_NUMBER)
        person = first["person_id"]
        assert second["person_id"] == north["person_id"] == person

        shown = succeeded(await pathway("person", "show", second["case_id"], "--as", "pr-001", "--json", env=env))
        view = shown.json()
        assert view["person_id"] == person
        episodes = {e["case_id"]: e for e in view["episodes"]}
        assert list(episodes) == [first["case_id"], second["case_id"], north["case_id"]]
        assert episodes[first["case_id"]]["site"] == "demo" and episodes[first["case_id"]]["in_scope"]
        elsewhere = episodes[north["case_id"]]
        assert not elsewhere["in_scope"] and elsewhere["site"] is None and elsewhere["stage"] is None
        assert elsewhere["needs"] == [] and elsewhere["referrals"] == [] and elsewhere["setting"] == "custody"

        text = succeeded(await pathway("person", "show", person, "--as", "pr-001", env=env)).stdout
        [line] = [x for x in text.splitlines() if north["case_id"] in x]
        assert line.rstrip().endswith("another service") and "north" not in text
        assert f"person {person}" in text and "3 episode(s)" in text
        both_sites = succeeded(await pathway("person", "show", person, "--as", "pr-002", env=env)).stdout
        [line] = [x for x in both_sites.splitlines() if north["case_id"] in x]
        assert "site north" in line and "another service" not in both_sites

        # A name and date of birth: a task for a practitioner, never a link on its own.
        sam = ("--person-name", "Sam Carter", "--date-of-birth", "1988-02-03")
        earlier, later = await start("pr-001", "demo", *sam), await start("pr-001", "demo", *sam)
        assert later["person_id"] != earlier["person_id"]
        case_id = later["case_id"]
        listed = succeeded(await pathway("task", "list", "--case", case_id, "--as", "pr-001", env=env)).stdout
        [task_line] = [x for x in listed.splitlines() if "person_match" in x]
        task_id = task_line.split()[0]

        candidates = succeeded(await pathway("person", "candidates", task_id, "--as", "pr-001", "--json", env=env))
        [candidate] = candidates.json()
        assert candidate["person_id"] == earlier["person_id"] and candidate["initials"] == "SC"
        assert [e["case_id"] for e in candidate["episodes"]] == [earlier["case_id"]]
        text = succeeded(await pathway("person", "candidates", task_id, "--as", "pr-001", env=env)).stdout
        assert f"{earlier['person_id']}  SC  born 1988-02-03" in text and "1 candidate(s)" in text

        confirm = json.dumps({"same_person_as": earlier["person_id"]})
        done = await pathway("task", "complete", task_id, "--outcome", confirm, "--as", "pr-001", "--json", env=env)
        assert succeeded(done).json()["person_id"] == earlier["person_id"]

        # A wrong link undone, then linked again by hand.
        own = later["own_person_id"]
        unlinked = await pathway(
            "person", "unlink", case_id, "--reason", "another Sam Carter", "--as", "pr-001", env=env
        )
        assert succeeded(unlinked).stdout.strip() == f"case {case_id} is its own person again ({own})"
        again = await pathway(
            "person", "unlink", case_id, "--reason", "once more", "--as", "pr-001", "--json", env=env
        )  # fmt: skip
        assert again.json_error(ExitStatus.REFUSED)["rule"] == "not_linked"
        basis = ("--basis", "the same address and custody photo")
        linked = await pathway(
            "person", "link", case_id, "--to", earlier["person_id"], *basis, "--as", "pr-001", "--json", env=env
        )  # fmt: skip
        assert succeeded(linked).json()["person_id"] == earlier["person_id"]

        # Refusals change nothing.
        events = len(await store.read_stream(second["case_id"]))
        unknown = await pathway("person", "link", second["case_id"], "--to", NOBODY, *basis, "--as", "pr-001", env=env)
        assert unknown.status == ExitStatus.NOT_FOUND and "rule: person_unknown" in unknown.stderr
        auditor = await pathway(
            "person", "link", second["case_id"], "--to", earlier["person_id"], *basis, "--as", "au-001",
            env=env,
        )  # fmt: skip
        assert auditor.status == ExitStatus.REFUSED and "rule: role_not_allowed" in auditor.stderr
        assert len(await store.read_stream(second["case_id"])) == events

        # Shredding a person shreds every episode of theirs, and says which.
        for episode in (earlier, later):
            closing = ("case", "close", episode["case_id"], "--reason", "record_made_in_error")
            succeeded(await pathway(*closing, "--as", "pr-001", env=env))
        shred = ("data", "shred", earlier["person_id"], "--reason", "record made in error", "--as", "ad-001")
        text = succeeded(await pathway(*shred, env=env)).stdout
        assert f"the person's other episodes, shredded with it: {case_id}" in text
        answer = succeeded(await pathway(*shred, "--json", env=env)).json()
        assert answer["case_id"] == earlier["case_id"] and answer["other_cases"] == [case_id] and answer["already"]

        # A new index key: every episode still holding personal data is indexed again under it.
        reindexed = succeeded(await pathway("person", "reindex", "--as", "ad-001", env=env)).stdout
        assert reindexed.strip() == "3 episode(s) now indexed under index key k1"
        refused = await pathway("person", "reindex", "--as", "pr-001", env=env)
        assert refused.status == ExitStatus.REFUSED and "rule: role_not_allowed" in refused.stderr
    await store.close()
