"""Sending email over SMTP."""

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes  # sent as it is (base64 on the wire), so the receiver gets these exact bytes
    media_type: str = "application/octet-stream"


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    sender: str
    use_tls: bool = False
    username: str | None = None
    password: str | None = None

    async def send(
        self, to: list[str], subject: str, body: str, message_id: str, attachments: Sequence[Attachment] = ()
    ) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        # A stable Message-ID lets a receiving server or person recognise a resend as the same message.
        message["Message-ID"] = f"<{message_id}@pathway>"
        message.set_content(body)
        for attachment in attachments:
            maintype, subtype = attachment.media_type.split("/", 1)
            message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            start_tls=self.use_tls,
            username=self.username,
            password=self.password,
            timeout=30,
        )
