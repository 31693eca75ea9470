"""Sending an outbound message and recording in the notifications table whether it went."""

from collections.abc import Awaitable, Callable

from store.notifications import NotificationLog


async def deliver(log: NotificationLog, message_id: str, send: Callable[[], Awaitable[None]]) -> None:
    """Run `send`; a failure is recorded and raised again, so that the activity is retried."""
    try:
        await send()
    except Exception as error:
        await log.mark(message_id, "failed", f"{type(error).__name__}: {error}")
        raise
    await log.mark(message_id, "sent")
