"""The web dashboard's own state (issue #15): login sessions and the effects outbox.

Sessions: :meth:`DashboardService.open_session` stores a new session and returns the token for the
cookie; only the token's SHA-256 is stored. A session lasts :data:`SESSION_LIFETIME` from login,
whatever happens; logout deletes it at once.

Effects: a moderator's action on the web changes the case through :class:`ReportService`, exactly
as the button does; what the button does next in Discord (edit the moderators' message, DM the
reporter, open or end a mediation thread) is queued here with :meth:`queue_effect` and done by the
bot process that holds the guild (``cogs/dashboard.py``), which claims a row with a lease, does it
and deletes it. A crashed sender's lease runs out and the row is tried again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select

from bot.models.dashboard import DashboardEffect, DashboardSession
from bot.services.context import ServiceContext
from bot.sharding import GuildScope, in_scope

SESSION_LIFETIME = timedelta(hours=12)
EFFECT_LEASE = timedelta(seconds=90)
EFFECT_KINDS = ("refresh_case", "notify_closed", "mediate", "end_mediation", "refresh_resource")
#: After this many failed attempts an effect is dropped (and logged by the bot): a message that
#: cannot be edited for hours is gone or forbidden, and the next action refreshes it anyway.
MAX_ATTEMPTS = 20


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class WebSession:
    """A logged-in browser."""

    id: str  # the stored digest, not the cookie's token
    user_id: int
    user_name: str
    guild_ids: frozenset[int]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Effect:
    """A claimed effect: do it, then :meth:`DashboardService.effect_done`."""

    id: int
    guild_id: int
    kind: str
    ref_id: int
    actor_id: int | None
    member_id: int | None
    attempts: int


class DashboardService:
    """Sessions and the effects outbox of the web dashboard."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db

    # ------------------------------------------------------------------ sessions

    async def open_session(
        self, user_id: int, user_name: str, guild_ids: set[int], now: datetime
    ) -> tuple[str, WebSession]:
        """Store a new session; returns the cookie token (shown once, never stored) and the session."""
        token = secrets.token_urlsafe(32)
        row = DashboardSession(
            id=_digest(token),
            user_id=user_id,
            user_name=user_name[:100],
            guild_ids=",".join(str(g) for g in sorted(guild_ids))[:20000],
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
        async with self.db.session() as s:
            s.add(row)
        return token, _session(row)

    async def session(self, token: str, now: datetime) -> WebSession | None:
        """The live session of a cookie token, or ``None`` (unknown, logged out or expired)."""
        async with self.db.session() as s:
            row = await s.get(DashboardSession, _digest(token))
        if row is None or row.expires_at <= now:
            return None
        return _session(row)

    async def close_session(self, token: str) -> None:
        """Logout: the session is gone at once."""
        async with self.db.session() as s:
            await s.exec(delete(DashboardSession).where(col(DashboardSession.id) == _digest(token)))  # type: ignore[call-overload]

    async def purge_sessions(self, now: datetime) -> int:
        """Delete expired sessions; returns how many."""
        async with self.db.session() as s:
            result = await s.exec(delete(DashboardSession).where(col(DashboardSession.expires_at) <= now))  # type: ignore[call-overload]
            return int(result.rowcount or 0)

    # ------------------------------------------------------------------ effects

    async def queue_effect(
        self,
        guild_id: int,
        kind: str,
        ref_id: int,
        now: datetime,
        *,
        key: str,
        actor_id: int | None = None,
        member_id: int | None = None,
    ) -> bool:
        """Queue work for the bot; ``False`` when ``key`` was queued before (nothing is added)."""
        if kind not in EFFECT_KINDS:
            raise ValueError(f"unknown effect {kind!r}")
        async with self.db.session() as s:
            exists = (await s.exec(select(DashboardEffect.id).where(DashboardEffect.key == key[:64]))).first()
            if exists is not None:
                return False
            s.add(
                DashboardEffect(
                    key=key[:64],
                    guild_id=guild_id,
                    kind=kind,
                    ref_id=ref_id,
                    actor_id=actor_id,
                    member_id=member_id,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        return True

    async def claim_effects(self, now: datetime, *, scope: GuildScope | None = None, limit: int = 25) -> list[Effect]:
        """Take due effects of the guilds in ``scope`` (this process's shards), oldest first."""
        async with self.db.session() as s:
            pending = (DashboardEffect.state == "pending") & (DashboardEffect.next_attempt_at <= now)
            stale = (DashboardEffect.state == "sending") & (col(DashboardEffect.lease_until) <= now)
            rows = (
                await s.exec(
                    select(DashboardEffect)
                    .where(pending | stale, in_scope(scope, col(DashboardEffect.guild_id)))
                    .order_by(col(DashboardEffect.id))
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            claimed = []
            for row in rows:
                row.state, row.lease_until, row.attempts = "sending", now + EFFECT_LEASE, row.attempts + 1
                assert row.id is not None
                claimed.append(
                    Effect(row.id, row.guild_id, row.kind, row.ref_id, row.actor_id, row.member_id, row.attempts)
                )
            return claimed

    async def effect_done(self, effect_id: int) -> None:
        """The effect happened (or can never happen): forget it."""
        async with self.db.session() as s:
            await s.exec(delete(DashboardEffect).where(col(DashboardEffect.id) == effect_id))  # type: ignore[call-overload]

    async def effect_failed(self, effect_id: int, retry_at: datetime) -> None:
        """Try again at ``retry_at``."""
        async with self.db.session() as s:
            row = await s.get(DashboardEffect, effect_id, with_for_update=True)
            if row is not None:
                row.state, row.lease_until, row.next_attempt_at = "pending", None, retry_at

    async def pending_effects(self, guild_id: int) -> int:
        """How many effects of a guild are still waiting (for tests and the overview)."""
        async with self.db.session() as s:
            rows = (await s.exec(select(DashboardEffect.id).where(DashboardEffect.guild_id == guild_id))).all()
            return len(rows)


def _session(row: DashboardSession) -> WebSession:
    return WebSession(
        id=row.id,
        user_id=row.user_id,
        user_name=row.user_name,
        guild_ids=frozenset(int(g) for g in row.guild_ids.split(",") if g),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )
