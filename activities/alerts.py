"""Break-glass alerts: a site's team leads learn that one of its cases was read from outside the site.

The alert is sent by the worker (BreakGlassAlertWorkflow), whichever interface the read came through,
because only the worker is sure to have the mailer. It is recorded in the notifications table under
the id of the read's access record, so a retried activity or a second start sends it once. The
message names the case, the site and the reader by their ids; the break-glass reason may name the
person, so it stays in the access log and the message only links there.
"""

from temporalio import activity

from activities.mailer import SmtpMailer
from activities.notifications import NotificationResult
from activities.outbox import deliver
from domain.config import PathwayConfig
from domain.model import Role
from store.notifications import NotificationLog
from workers.metrics import count_notification_failure
from workflows.messages import BreakGlassAlert

KIND = "break_glass"


def team_lead_emails(config: PathwayConfig, site: str) -> list[str]:
    return sorted({m.email for m in config.staff_at(site, (Role.TEAM_LEAD,)) if m.email})


def break_glass_message(alert: BreakGlassAlert, inbox_url: str) -> tuple[str, str]:
    """The subject and body of the alert."""
    subject = "Break-glass: a case of your site was read from outside it"
    body = (
        f"Staff member {alert.staff_id} ({alert.role}), who does not work at site {alert.site}, "
        f"read case {alert.case_id} with a break-glass reason.\n\n"
        f"See who read it and why: {inbox_url.rstrip('/')}/cases/{alert.case_id}/access\n"
    )
    return subject, body


class AlertActivities:
    def __init__(self, log: NotificationLog, config: PathwayConfig, mailer: SmtpMailer | None, inbox_url: str) -> None:
        self._log = log
        self._config = config
        self._mailer = mailer
        self._inbox_url = inbox_url

    @activity.defn(name="alert_break_glass")
    async def alert_break_glass(self, alert: BreakGlassAlert) -> NotificationResult:
        recipients = team_lead_emails(self._config, alert.site)
        subject, body = break_glass_message(alert, self._inbox_url)
        record = await self._log.record(alert.alert_id, alert.case_id, None, KIND, recipients, subject, body)
        if record.status in ("sent", "not_sent"):  # an earlier attempt settled it
            return NotificationResult(status=record.status, recipients=list(record.recipients))
        # Not sendable is an outcome, not a failure: retrying would not find a team lead or a mail server.
        if not recipients:
            await self._log.mark(alert.alert_id, "not_sent", "the site has no team lead with an email")
            return NotificationResult(status="not_sent", recipients=[])
        if self._mailer is None:
            await self._log.mark(alert.alert_id, "not_sent", "no SMTP server is configured")
            return NotificationResult(status="not_sent", recipients=recipients)
        mailer = self._mailer
        try:
            await deliver(self._log, alert.alert_id, lambda: mailer.send(recipients, subject, body, alert.alert_id))
        except Exception:
            count_notification_failure(KIND)
            raise
        activity.logger.info(
            "break-glass alert sent",
            extra={"case_id": alert.case_id, "site": alert.site, "recipient_count": len(recipients)},
        )
        return NotificationResult(status="sent", recipients=recipients)
