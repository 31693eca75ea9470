"""Break-glass alerts: a team lead of the case's site learns that someone read it from outside."""

import uuid

import structlog

from activities.mailer import SmtpMailer
from activities.outbox import deliver
from domain.access import Principal
from domain.config import PathwayConfig
from domain.model import Role
from store.notifications import NotificationLog

log = structlog.get_logger(__name__)


async def alert_break_glass(
    outbox: NotificationLog,
    mailer: SmtpMailer | None,
    config: PathwayConfig,
    inbox_url: str,
    case_id: str,
    site: str,
    reader: Principal,
) -> None:
    """Record the alert, and email it when a mail server is configured. The reason stays in the access
    log (it may name the person); the message only points there."""
    recipients = sorted({m.email for m in config.staff_at(site, (Role.TEAM_LEAD,)) if m.email})
    alert_id = str(uuid.uuid4())
    subject = "Break-glass: a case of your site was read from outside it"
    body = (
        f"Staff member {reader.staff_id} ({reader.role}), who does not work at site {site}, read case {case_id} "
        f"with a break-glass reason.\n\nSee who read it and why: {inbox_url.rstrip('/')}/cases/{case_id}/access\n"
    )
    await outbox.record(alert_id, case_id, None, "break_glass", recipients, subject, body)
    if mailer is None or not recipients:
        reason = "no SMTP server is configured" if mailer is None else "the site has no team lead with an email"
        await outbox.mark(alert_id, "not_sent", reason)
        return
    try:
        await deliver(outbox, alert_id, lambda: mailer.send(recipients, subject, body, alert_id))
    except Exception:
        # The read itself stands; the failed alert is in the notifications table for the team to see.
        log.warning("break-glass alert not sent", case_id=case_id)
