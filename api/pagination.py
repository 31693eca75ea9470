"""Pages of a listing (GET /api/tasks, GET /api/cases): `limit` items from a cursor, with the way on
in a `Link` header (RFC 8288: rel="first", "prev", "next").

A cursor names the place between two items by the listing's own total order (the service's
`inbox_order` and `index_order`), not by a count: a task done or a case opened while someone pages
moves no other item to a page already read or yet to come. (A task that turns overdue meanwhile
moves to the front of the inbox, as it should; a client that pages on past that moment does not see
it again.) A cursor holds only what orders the items (times, priorities, opaque ids): no personal data."""

import base64
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import HTTPException, Query, Request, Response
from pydantic import TypeAdapter

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (default {DEFAULT_LIMIT})")]
Cursor = Annotated[
    str | None, Query(max_length=400, description="Where the page starts: from a `Link` header of the last page")
]

Item = TypeVar("Item")
Key = TypeVar("Key", bound=tuple[Any, ...])
Direction = Literal["after", "before"]


@dataclass(frozen=True)
class Pages(Generic[Item, Key]):
    """A listing sorted by `key`, a total order (ties broken by an id), cut into pages."""

    key: Callable[[Item], Key]
    cursor_type: TypeAdapter[tuple[Direction, Key]]

    def page(
        self, items: Sequence[Item], cursor: str | None, limit: int, request: Request, response: Response
    ) -> list[Item]:
        """The page `cursor` names of `items` (already in key order); its links go in `response`."""
        keys = [self.key(item) for item in items]
        if cursor is None:
            start, end = 0, min(limit, len(items))
        else:
            direction, boundary = self._read(cursor)
            if direction == "after":
                start = bisect_right(keys, boundary)
                end = min(start + limit, len(items))
            else:
                end = bisect_left(keys, boundary)
                start = max(0, end - limit)
        links = {"first": request.url.remove_query_params("cursor")}
        if start < end < len(items):
            links["next"] = request.url.include_query_params(cursor=self._write("after", keys[end - 1]))
        if 0 < start < end:
            links["prev"] = request.url.include_query_params(cursor=self._write("before", keys[start]))
        response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
        return list(items[start:end])

    def _write(self, direction: Direction, key: Key) -> str:
        return base64.urlsafe_b64encode(self.cursor_type.dump_json((direction, key))).decode().rstrip("=")

    def _read(self, cursor: str) -> tuple[Direction, Key]:
        try:
            return self.cursor_type.validate_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except ValueError:  # not base64, not JSON, or not a key of this listing
            raise HTTPException(
                400,
                "the cursor is not one this listing gave: follow a Link of the last page, or start again without one",
            ) from None
