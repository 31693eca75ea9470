"""The attacks run against the same app, worker and dev server as tests/api: its fixtures, shared."""

from tests.api.conftest import api as api
from tests.api.conftest import live_server as live_server
from tests.workflows.conftest import mailbox as mailbox
