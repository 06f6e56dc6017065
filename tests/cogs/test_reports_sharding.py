"""Conflict reports with several shard processes (issue #10), through Discord-shaped interactions.

The bot here holds shard 0 of 2 and the standard guild ("Kinship Test") is on shard 1: it is not in
this process's cache. Its reports are another process's to deliver; but an invitation DM's buttons
arrive on shard 0 whatever the guild's shard, so this process answers them.
"""

from __future__ import annotations

import discord

from bot import delivery, i18n
from cogs.reports_views import case_embed, case_view, invite_view
from tests.harness.world import TestDatabase, running_world


def _cases(channel) -> list[discord.Message]:
    return [m for m in channel.history() if m.embeds and (m.embeds[0].title or "").startswith("Case #")]


async def test_only_this_process_s_guilds_reports_are_delivered(test_db: TestDatabase) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            here = w.env.create_guild("Here", shard_id=0)
            dora, erin = here.add_member(w.env.create_user("dora")), here.add_member(w.env.create_user("erin"))
            here_mods = here.create_text_channel("moderators")
            await w.env.settle()
            await w.services.guilds.update(here.id, w.now(), mod_channel_id=here_mods.id)
            await w.configure(mod_channel_id=w.mods.id)
            for guild_id, who, whom in ((here.id, dora, erin), (w.guild.id, w.alice, w.bob)):
                await w.services.reports.file_report(
                    guild_id, who.id, whom.id, reported_is_bot=False, reason="rude", now=w.now()
                )
            await w.tick("reports.deliver")
            assert len(_cases(here_mods)) == 1
            assert _cases(w.mods) == [] and w.requests(path_contains=str(w.mods.id)) == []
            case = await w.services.reports.case(w.guild.id, 1)
            assert case.report.delivery == "pending", "left untouched for the process holding its shard"
            assert await w.services.health.list(w.guild.id) == [], "its channel is not 'missing'"


async def test_joining_a_mediation_of_a_guild_on_another_shard(test_db: TestDatabase) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            reports, now = w.services.reports, w.now()
            # What the process holding the guild's shard did: deliver the case, open the thread, invite bob.
            receipt = await reports.file_report(
                w.guild.id, w.alice.id, w.bob.id, reported_is_bot=False, reason="x", now=now
            )
            claim = await reports.claim_delivery(receipt.report_id, now)
            assert claim is not None
            mods = w.bot.get_partial_messageable(w.mods.id, guild_id=w.guild.id)
            posted = await mods.send(embed=case_embed(claim.case, "en"), view=case_view(claim.case, "en"))
            await reports.mark_delivered(receipt.report_id, w.mods.id, posted.id, now)
            help_channel = await w.bot.fetch_channel(w.help.id)
            assert isinstance(help_channel, discord.TextChannel)
            thread = await help_channel.create_thread(name="Mediation #1", type=discord.ChannelType.private_thread)
            start = await reports.start_mediation(receipt.report_id, w.guild.id, w.mod.id, thread.id, now)
            [invite] = [i for i in start.invitations if i.party == "reported"]
            text = i18n.t("reports.mediation.invite_reported", "en", guild="Kinship Test", case_no=1)
            outcome, _ = await delivery.send_dm(w.bot, w.bob.id, text, view=invite_view(invite.invite_id, "en"))
            assert outcome == "sent"
            await w.env.settle()

            await w.bob.user.click(w.bob.user.dm_channel.last_message, label="Join")
            answered = w.bob.user.dm_channel.last_message
            assert "You've joined the conversation" in answered.content and answered.components == []
            assert w.bob.id in w.env.backend.get_channel(thread.id).thread_members
            [message] = _cases(w.mods)
            history = next(f.value for f in message.embeds[0].fields if f.name == "History")
            assert "Joined the mediation" in history, "the moderators' message is updated by id"
            assert await w.services.health.list(w.guild.id) == []
