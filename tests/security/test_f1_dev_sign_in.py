"""F1 of issue 15: `pathway api` served the password-less dev sign-in page (it lists every staff id,
admins included, and signs in as whoever is picked) whenever a JWT secret was set instead of OIDC, and
`deploy/compose.yaml` ran it that way on 0.0.0.0.

The old `api/serve.py` `api_server` built `DevSignIn` whenever `PATHWAY_OIDC_JWKS_URL` was unset, on
any host; there was no `--dev-login` flag. Now the dev sign-in exists only under `pathway dev` or
`pathway api --dev-login`, which refuses a non-loopback address and refuses OIDC (api/serve.py
`check_dev_login`, `api_services`; cli/main.py `api`, `check_sign_in`); the deployments require an
OIDC issuer and never pass the flag."""

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from api.app import create_app
from api.serve import DevLoginRefused, api_services
from api.session import COOKIE
from cli.main import check_sign_in
from service.staff import StaffCommands
from tests.api.conftest import api_client
from tests.cli.support import free_port, pathway
from tests.conftest import TEST_PAYLOAD_KEYS_TEXT
from tests.deploy.test_deploy_files import commands_run, compose, containers, workloads
from workers.settings import Settings

JWKS_URL = "https://login.example.org/realms/nhs/protocol/openid-connect/certs"


def settings_in(data_dir: Path, oidc_jwks_url: str | None = None) -> Settings:
    """`pathway api`'s settings without OIDC unless given: a JWT secret (generated into the data dir),
    which is exactly where the old code served the dev sign-in."""
    return Settings(
        data_dir=data_dir,
        oidc_jwks_url=oidc_jwks_url,
        generate_missing_secrets=True,
        payload_keys=TEST_PAYLOAD_KEYS_TEXT,
    )


async def test_pathway_api_without_the_flag_serves_no_sign_in_page(tmp_path: Path, cases: StaffCommands) -> None:
    # Old: GET /login listed every staff id of the directory (ad-001 admin among them) as radio
    # buttons, and POST /login with staff_id=ad-001 set a session cookie signed in as that admin.
    services = api_services(settings_in(tmp_path / "data"), cases.pathway, dev_login=False)
    assert services.dev_sign_in is None
    staff_ids = [member.staff_id for member in cases.config.staff]
    assert "ad-001" in staff_ids
    async with api_client(create_app(services)) as web:
        login = await web.get("/login")
        assert login.status_code == 200
        assert [staff_id for staff_id in staff_ids if staff_id in login.text] == []
        assert "single sign-on" in login.text

        signed_in = await web.post("/login", data={"staff_id": "ad-001"})
        assert signed_in.status_code >= 400, signed_in.status_code
        assert "set-cookie" not in signed_in.headers and COOKIE not in web.cookies
        inbox = await web.get("/inbox")
        assert inbox.status_code == 303 and inbox.headers["location"] == "/login"


def test_pathway_api_without_the_flag_says_at_start_up_that_there_is_no_sign_in_page(tmp_path: Path) -> None:
    # Old: nothing was said; the dev sign-in page was silently served.
    with capture_logs() as logs:
        check_sign_in(settings_in(tmp_path / "data"), "0.0.0.0", dev_login=False)
    said = [entry["event"] for entry in logs]
    assert any("no sign-in page" in line and "PATHWAY_JWT_SECRET" in line for line in said), said


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "pathway.example.org"])
async def test_the_dev_sign_in_is_refused_on_an_address_others_can_reach(
    tmp_path: Path, cases: StaffCommands, host: str
) -> None:
    # Old: the dev sign-in was served on whatever --host was given (0.0.0.0 in compose).
    with pytest.raises(DevLoginRefused, match="loopback"):
        api_services(settings_in(tmp_path / "data"), cases.pathway, dev_login=True, host=host)


async def test_the_dev_sign_in_is_refused_with_oidc_configured(tmp_path: Path, cases: StaffCommands) -> None:
    # Old: there was no way to ask for it; now asking for it next to OIDC is a mistake, refused.
    settings = settings_in(tmp_path / "data", oidc_jwks_url=JWKS_URL)
    with pytest.raises(DevLoginRefused, match="OIDC"):
        api_services(settings, cases.pathway, dev_login=True, host="127.0.0.1")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
async def test_the_dev_sign_in_is_served_on_loopback_when_asked_for(
    tmp_path: Path, cases: StaffCommands, host: str
) -> None:
    """The control: on a loopback address, asked for, the page is there and lists the staff."""
    services = api_services(settings_in(tmp_path / "data"), cases.pathway, dev_login=True, host=host)
    assert services.dev_sign_in is not None
    async with api_client(create_app(services)) as web:
        assert 'value="ad-001"' in (await web.get("/login")).text


@pytest.mark.parametrize(
    ("host", "oidc", "reason"),
    [("0.0.0.0", None, "loopback address only, not 0.0.0.0"), ("127.0.0.1", JWKS_URL, "OIDC configured")],
)
async def test_the_cli_refuses_dev_login_before_serving_anything(
    tmp_path: Path, host: str, oidc: str | None, reason: str
) -> None:
    # Old: `--dev-login` did not exist (typer's "No such option", also status 2, but saying nothing
    # of loopback or OIDC), and `pathway api --host 0.0.0.0` served the dev sign-in anyway.
    data_dir = tmp_path / "data"
    env = {"PATHWAY_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}  # nobody there: it must not get that far
    if oidc is not None:
        env["PATHWAY_OIDC_JWKS_URL"] = oidc
    port = str(free_port())
    started = await pathway("--data-dir", str(data_dir), "api", "--host", host, "--port", port, "--dev-login", env=env)
    assert started.status == 2, (started.stdout, started.stderr)
    assert "error: " in started.stderr and reason in started.stderr, started.stderr
    assert not data_dir.exists()  # no store was opened, no secret generated, nothing bound


def test_the_deployments_sign_in_through_oidc_and_never_pass_dev_login() -> None:
    # Old: compose ran `pathway api --host 0.0.0.0` with PATHWAY_JWT_SECRET required and OIDC absent,
    # which served the dev sign-in to anyone reaching port 8000; Kubernetes had OIDC optional.
    assert [args for args in commands_run() if "--dev-login" in args] == []
    api_environment = compose()["services"]["api"]["environment"]
    assert api_environment["PATHWAY_OIDC_JWKS_URL"].startswith("${PATHWAY_OIDC_JWKS_URL:?")
    (api,) = containers(workloads()["pathway-api"])
    (jwks,) = [variable for variable in api["env"] if variable["name"] == "PATHWAY_OIDC_JWKS_URL"]
    assert not jwks["valueFrom"]["secretKeyRef"].get("optional", False)
