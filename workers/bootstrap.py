"""The one place the service is built: for the API, the CLI, the dev stack, the demo seed and tests.

Whatever the interface, the same parts: the case gateway over Temporal and the store, the person
keys that seal and open, the access log, and the staff directory of the configuration."""

from temporalio.client import Client

from domain.config import PathwayConfig
from service.audit import Audit
from service.cases import CaseService
from service.gateway import TemporalCaseGateway
from service.identity import TokenVerifier
from service.pathway import Pathway
from service.people import People
from service.person_matching import PersonMatcher
from service.reports import Reports
from store.access_log import AccessLog
from store.event_store import EventStore
from store.keyring import KeyRing
from store.person_index import PersonIndex
from store.person_keys import PersonKeys
from store.sealing import Sealer
from store.sign_outs import SignOuts
from workers.settings import Settings


def pathway_service(
    client: Client,
    store: EventStore,
    config: PathwayConfig,
    *,
    case_id_key: bytes,
    task_queue: str,
    master_keys: KeyRing,
    index_keys: KeyRing,
) -> Pathway:
    keys = PersonKeys(store.engine, master_keys)
    cases = CaseService(
        gateway=TemporalCaseGateway(client=client, store=store, task_queue=task_queue),
        config=config,
        case_id_key=case_id_key,
        sealer=Sealer(keys),
        access=AccessLog(store.engine),
        matcher=PersonMatcher(PersonIndex(store.engine), index_keys),
    )
    people = People(cases, keys, PersonIndex(store.engine))
    return Pathway(
        cases=cases,
        audit=Audit(cases, client, people),
        reports=Reports(store, config),
        people=people,
        sign_outs=SignOuts(store.engine),
    )


def service_for(settings: Settings, client: Client, store: EventStore) -> Pathway:
    """The service as every process builds it from its settings."""
    return pathway_service(
        client,
        store,
        settings.pathway_config,
        case_id_key=settings.case_id_key,
        task_queue=settings.task_queue,
        master_keys=settings.master_key_ring,
        index_keys=settings.index_key_ring,
    )


def token_verifier(settings: Settings, pathway: Pathway) -> TokenVerifier:
    """Sign-in tokens checked against the directory: an OIDC issuer's (production) or ours (dev)."""
    return TokenVerifier(
        pathway.config,
        settings.jwt_issuer,
        settings.jwt_audience,
        secret=None if settings.oidc_jwks_url else settings.token_secret,
        jwks_url=settings.oidc_jwks_url,
        max_hours=settings.token_max_hours,
        signed_out=pathway.sign_outs.revoked,
    )
