"""Errors whose text is safe to show to a member.

Services raise these with a message *key* from the catalogue (``bot/i18n/locales``) and the
values it needs; the Discord layer renders the text in the reader's language. Anything that is
not a :class:`KinshipError` is unexpected: it is logged with an error id and the member sees an
apology with that id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class KinshipError(Exception):
    """Base class: ``key`` names a catalogue entry, ``params`` fill it in."""

    default_key = "errors.generic"

    def __init__(self, key: str | None = None, /, **params: Any) -> None:
        self.key = key or self.default_key
        self.params = params
        super().__init__(self.key)


class InvalidInput(KinshipError):
    """The member typed something we cannot use; the text says what to do instead."""

    default_key = "errors.invalid_input"


class NotFound(KinshipError):
    """The thing asked for does not exist (or is not visible to the asker)."""

    default_key = "errors.not_found"


class NotAllowed(KinshipError):
    """The member may not do this."""

    default_key = "errors.not_allowed"


class NotConfigured(KinshipError):
    """The server has not set up what this needs yet; admins fix it with /setup."""

    default_key = "errors.not_configured"


class TryLater(KinshipError):
    """A limit was reached; ``retry_at`` (aware UTC) says when it is possible again."""

    default_key = "errors.try_later"

    def __init__(self, key: str | None = None, /, *, retry_at: datetime, **params: Any) -> None:
        super().__init__(key, retry_at=retry_at, **params)
        self.retry_at = retry_at
