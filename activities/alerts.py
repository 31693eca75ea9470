"""Break-glass alerts: a site's team leads learn that one of its cases was read from outside the site.

The alert is sent by the worker (BreakGlassAlertWorkflow), whichever interface the read came through,
because only the worker is sure to have the mailer. It is recorded in the notifications table under
the id of the read's access record, so a retried activity or a second start sends it once. The
message names the case, the site and the reader by their ids; the break-glass reason may name the
person, so it stays in the access log and the message only links there.
"""

from temporalio import activity

from activities.mailer import SmtpMailer
from activities.outbox import NotificationResult, Outgoing, send_once
from domain.config import PathwayConfig
from domain.model import Role
from store.notifications import NotificationLog
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
        message = Outgoing(
            message_id=alert.alert_id,
            case_id=alert.case_id,
            task_id=None,
            kind=KIND,
            recipients=recipients,
            subject=subject,
            body=body,
            no_recipients="the site has no team lead with an email",
        )
        result = await send_once(self._log, self._mailer, message)
        if result.status == "sent":
            activity.logger.info(
                "break-glass alert sent",
                extra={"case_id": alert.case_id, "site": alert.site, "recipient_count": len(recipients)},
            )
        return result
