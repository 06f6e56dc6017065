"""checkins: the setting for reminders of members whose DMs are closed (issue #17)

Existing guilds get the new default, no public reminder: until now such members were mentioned in
the week's thread; an admin who wants that back turns it on with ``/setup checkins closed_dms``.

Revision ID: checkins_0002
Revises: checkins_0001
Create Date: 2026-12-03 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "checkins_0002"
down_revision: str | Sequence[str] | None = "checkins_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkin_schedule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread_reminders", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("checkin_schedule", schema=None) as batch_op:
        batch_op.drop_column("thread_reminders")
