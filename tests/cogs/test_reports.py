"""Conflict reports (issue #6) through Discord-shaped interactions.

The reporter in these tests is always alice; bob is the reported member; carol is a bystander.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import discord
import pytest

from bot.services.events import ConflictClosed
from tests.harness.world import World


async def _configure(world: World, **extra: Any) -> None:
    settings: dict[str, Any] = {
        "mod_channel_id": world.mods.id,
        "mod_role_id": world.mod_role.id,
        "help_channel_id": world.help.id,
    }
    settings.update(extra)
    await world.configure(**settings)


async def _report_member(world: World, reporter: Any, target: Any, reason: str = "He keeps insulting me") -> Any:
    shown = await reporter.slash(world.general, "report", member=target, reason=reason)
    assert shown.modal is not None, shown
    return await reporter.submit_modal(shown, {"details": "In #general, twice this week.", "rule": "Rule 2: be kind"})


async def _report_message(world: World, reporter: Any, message: Any, reason: str = "Hurtful message") -> Any:
    shown = await reporter.context_menu(world.general, "Report message", message)
    assert shown.modal is not None, shown
    return await reporter.submit_modal(shown, {"reason": reason, "details": "It's about my post."})


def _case_messages(channel: Any, case_no: int | None = None) -> list[discord.Message]:
    found = [m for m in channel.history() if m.embeds and (m.embeds[0].title or "").startswith("Case #")]
    if case_no is not None:
        found = [m for m in found if m.embeds[0].title.startswith(f"Case #{case_no} ")]
    return found


def _case_message(channel: Any, case_no: int = 1) -> discord.Message:
    found = _case_messages(channel, case_no)
    assert len(found) == 1, f"expected exactly one message for case #{case_no}, found {len(found)}"
    return found[0]


def _field(embed: discord.Embed, name: str) -> str:
    return next(f.value for f in embed.fields if f.name == name)


def _bodies(world: World) -> list[tuple[Any, str]]:
    return [(r, json.dumps(r.json, ensure_ascii=False) if r.json is not None else "") for r in world.env.http_requests]


async def _setup_problems(world: World) -> str:
    r = await world.owner.slash(world.general, "setup show")
    fields = {f.name: f.value for f in r.response.embeds[0].fields}
    return fields.get("Problems Kinship ran into", "")


# ---------------------------------------------------------------------- filing and the queue


async def test_member_report_is_stored_receipted_and_queued_anonymously(world: World) -> None:
    await _configure(world)
    r = await _report_member(world, world.alice, world.bob)
    assert r.ephemeral and "case #1" in r.response.content
    assert "alice" not in r.response.content

    message = _case_message(world.mods)
    embed = message.embeds[0]
    assert embed.title == "Case #1 · open"
    assert _field(embed, "Reporter") == "anonymous"
    assert _field(embed, "Reported member") == f"<@{world.bob.id}>"
    assert "He keeps insulting me" in _field(embed, "Reason")
    assert "twice this week" in _field(embed, "Details")
    assert "Rule 2" in _field(embed, "Rule concerned")
    labels = [c.label for row in message.components for c in row.children]
    assert labels == ["Claim", "Mediate", "Resolve", "Dismiss", "Add note"]
    # A discussion thread under the report
    assert [t.name for t in world.mods.threads] == ["Case #1"]
    # Case numbers are sequential per guild
    r2 = await _report_member(world, world.carol, world.bob, reason="Rude to me as well")
    assert "case #2" in r2.response.content
    assert len(_case_messages(world.mods)) == 2


async def test_report_is_stored_before_the_receipt_even_when_the_receipt_fails(world: World) -> None:
    await _configure(world)
    shown = await world.alice.slash(world.general, "report", member=world.bob, reason="Threatened me")
    world.env.inject_error("POST", "/interactions/*/callback", status=500, times=1)
    await world.alice.submit_modal(shown, {"details": ""})
    # The receipt could not be sent, but the report was committed before it was attempted …
    assert (await world.services.reports.case(world.guild.id, 1)).report.reason == "Threatened me"
    # … and still reaches the moderators.
    assert "Threatened me" in _field(_case_message(world.mods).embeds[0], "Reason")


async def test_message_report_keeps_evidence_after_the_message_is_deleted(world: World) -> None:
    # No moderators' channel yet: the report waits in the outbox.
    await world.configure(mod_role_id=world.mod_role.id)
    posted = await world.bob.send(world.general, "You are all pathetic", attachments=[("mock.png", b"\x89PNG")])
    r = await _report_message(world, world.alice, posted)
    assert r.ephemeral and "case #1" in r.response.content
    await world.bob.delete(posted)
    assert "1 report(s) not delivered" in await _setup_problems(world)

    await world.configure(mod_channel_id=world.mods.id)
    await world.advance(60)
    await world.tick("reports.deliver")
    embed = _case_message(world.mods).embeds[0]
    evidence = _field(embed, "Evidence (snapshot taken when reported)")
    assert "You are all pathetic" in evidence
    assert "mock.png" in evidence and "bob" in evidence and f"<#{world.general.id}>" in evidence
    assert f"/{world.general.id}/{posted.id}" in evidence  # the jump link
    assert _field(embed, "Reported member") == f"<@{world.bob.id}>"
    assert "Hurtful message" in _field(embed, "Reason")
    # Delivered exactly once, and the problem is gone from /setup show.
    await world.advance(600)
    await world.tick("reports.deliver")
    assert len(_case_messages(world.mods)) == 1
    assert "not delivered" not in await _setup_problems(world)
    # /case view shows the evidence too, long after the message is gone.
    view = await world.mod.slash(world.general, "case view", id=1)
    assert view.ephemeral and "You are all pathetic" in str(view.response.embeds[0].to_dict())


async def test_missing_moderators_channel_is_listed_and_later_delivered_once(world: World) -> None:
    gone = world.guild.create_text_channel("old-mods")
    await _configure(world, mod_channel_id=gone.id)
    await world.owner_deletes(gone)
    await _report_member(world, world.alice, world.bob)
    await _report_member(world, world.carol, world.bob, reason="Also rude")
    problems = await _setup_problems(world)
    assert "2 report(s) not delivered" in problems and "no longer exists" in problems
    assert world.requests("POST", f"/channels/{gone.id}/messages") == []  # no blind 404s

    await world.configure(mod_channel_id=world.mods.id)
    for _ in range(3):
        await world.advance(60)
        await world.tick("reports.deliver")
    assert len(_case_messages(world.mods, 1)) == 1 and len(_case_messages(world.mods, 2)) == 1
    assert "not delivered" not in await _setup_problems(world)


@pytest.mark.parametrize("status", [500, 502, 429])
async def test_server_errors_and_rate_limits_are_retried_and_delivered_once(world: World, status: int) -> None:
    await _configure(world)
    world.env.inject_error("POST", f"/channels/{world.mods.id}/messages", status=status, times=2)
    r = await _report_member(world, world.alice, world.bob)
    assert "case #1" in r.response.content  # the reporter is not bothered with delivery trouble
    assert _case_messages(world.mods) == []
    assert "Discord did not accept the message" in await _setup_problems(world)

    await world.advance(30)
    await world.tick("reports.deliver")  # second failure (back-off grows)
    assert _case_messages(world.mods) == []
    await world.advance(30)
    await world.tick("reports.deliver")  # not due yet: 60 s after the second failure
    assert _case_messages(world.mods) == []
    await world.advance(30)
    await world.tick("reports.deliver")
    _case_message(world.mods)
    for _ in range(3):
        await world.advance(120)
        await world.tick("reports.deliver")
    assert len(_case_messages(world.mods)) == 1
    sends = [r for r in world.requests("POST") if r.path == f"/channels/{world.mods.id}/messages"]
    assert [s.json["nonce"] for s in sends] == ["r1", "r1", "r1"]  # every attempt carries the same nonce
    assert all(s.json["enforce_nonce"] for s in sends)
    assert "not delivered" not in await _setup_problems(world)


async def test_forbidden_is_not_retried_blindly(world: World) -> None:
    await _configure(world)
    world.env.inject_error("POST", f"/channels/{world.mods.id}/messages", status=403, code=50013, times=1)
    await _report_member(world, world.alice, world.bob)
    assert "I can't post in the moderators' channel" in await _setup_problems(world)
    await world.advance(300)
    await world.tick("reports.deliver")
    sends = [r for r in world.requests("POST") if r.path == f"/channels/{world.mods.id}/messages"]
    assert len(sends) == 1  # waited: no second 403
    await world.advance(15 * 60)
    await world.tick("reports.deliver")
    assert len(_case_messages(world.mods)) == 1


# ---------------------------------------------------------------------- anonymity


async def test_nothing_the_reported_member_or_non_moderators_receive_names_the_reporter(world: World) -> None:
    await _configure(world)
    posted = await world.bob.send(world.general, "nobody likes you")
    r = await _report_message(world, world.alice, posted)
    await world.alice.click(r.response, label="Tell me when it's closed")
    message = _case_message(world.mods)
    await world.mod.click(message, label="Claim")
    note = await world.mod.click(_case_message(world.mods), label="Add note")
    await world.mod.submit_modal(note, {"note": "Talked to both, calming down."})
    await world.mod.click(_case_message(world.mods), label="Mediate")
    bob_invite = world.bob.user.dm_channel.last_message
    await world.bob.user.click(bob_invite, label="Join")
    alice_invite = world.alice.user.dm_channel.last_message
    declined = await world.alice.user.click(alice_invite, label="No thanks")
    assert "won't be added" in declined.response.content
    assert "Declined the mediation" in _field(_case_message(world.mods).embeds[0], "History")
    await world.mod.click(_case_message(world.mods), label="Close: agreement")
    await world.mod.click(_case_message(world.mods), label="Resolve")
    await world.mod.slash(world.general, "case view", id=1)
    await world.mod.slash(world.general, "cases member", member=world.bob)
    await world.mod.slash(world.general, "cases open")

    alice_dm = world.alice.user.dm_channel.id
    secrets = (str(world.alice.id), "alice")
    leaks = []
    for request, body in _bodies(world):
        text = body + request.path
        if not any(s in text for s in secrets):
            continue
        to_alice = request.path == f"/channels/{alice_dm}/messages" or (
            request.path == "/users/@me/channels" and str(request.json.get("recipient_id")) == str(world.alice.id)
        )
        if not to_alice:
            leaks.append((request.method, request.path, body[:300]))
    assert leaks == []
    # What bob (the reported member) received says nothing about a report or a reporter.
    bob_dms = " ".join(m.content for m in world.bob.user.dm_channel.history())
    assert bob_dms and "report" not in bob_dms.lower() and "alice" not in bob_dms
    # The moderators' embed still says anonymous after all of it.
    assert _field(_case_message(world.mods).embeds[0], "Reporter") == "anonymous"
    # The reporter got her closing DM, without details about the outcome.
    closing = world.alice.user.dm_channel.last_message.content
    assert "case #1" in closing and "closed" in closing
    assert "agreement" not in closing.lower() and "resolved" not in closing.lower()


async def test_reveal_needs_two_different_moderators_and_is_audited(world: World) -> None:
    await _configure(world)
    mod2 = world.member("mod2", world.mod_role)
    await _report_member(world, world.alice, world.bob)

    first = await world.mod.slash(world.general, "case reveal", id=1)
    assert first.ephemeral and "second, different moderator" in first.response.content
    again = await world.mod.slash(world.general, "case reveal", id=1)
    assert str(world.alice.id) not in again.response.content  # the same moderator twice is not two
    world.allow_command_for("case", world.carol)
    refused = await world.carol.slash(world.general, "case reveal", id=1)
    assert refused.ephemeral and "Only moderators" in refused.response.content

    second = await mod2.slash(world.general, "case reveal", id=1)
    assert second.ephemeral and f"<@{world.alice.id}>" in second.response.content
    case = await world.services.reports.case(world.guild.id, 1)
    actions = [(e.action, e.actor_id) for e in case.history]
    assert ("reveal_approved", world.mod.id) in actions
    assert ("reveal_approved", mod2.id) in actions and ("revealed", mod2.id) in actions
    assert not any(e.action == "reveal_approved" and e.actor_id == world.carol.id for e in case.history)
    # The reveal is never posted anywhere but the approving moderator's ephemeral reply.
    assert all(str(world.alice.id) not in str(m.embeds[0].to_dict()) for m in _case_messages(world.mods))


async def test_non_moderators_are_refused_on_every_moderator_control(world: World) -> None:
    # A misconfigured (public) moderators' channel: carol can see the buttons, but must not use them.
    await _configure(world, mod_channel_id=world.general.id)
    await _report_member(world, world.alice, world.bob)
    for label in ("Claim", "Mediate", "Resolve", "Dismiss", "Add note"):
        r = await world.carol.click(_case_message(world.general), label=label)
        assert r.ephemeral and r.modal is None and "Only moderators" in r.response.content, label
    await world.mod.click(_case_message(world.general), label="Mediate")
    for label in ("Close: agreement", "Close: no agreement", "Close: escalated"):
        r = await world.carol.click(_case_message(world.general), label=label)
        assert "Only moderators" in r.response.content, label
    world.allow_command_for("case", world.carol)
    world.allow_command_for("cases", world.carol)
    for command, options in (
        ("case view", {"id": 1}),
        ("case reveal", {"id": 1}),
        ("cases member", {"member": world.bob}),
        ("cases open", {}),
    ):
        r = await world.carol.slash(world.general, command, **options)
        assert r.ephemeral and "Only moderators" in r.response.content and not r.response.embeds, command
    case = await world.services.reports.case(world.guild.id, 1)
    assert case.report.state == "mediating" and case.report.claimed_by == world.mod.id
    assert {e.actor_id for e in case.history} <= {None, world.mod.id}


async def test_moderator_commands_are_hidden_from_members(world: World) -> None:
    commands = world.alice.available_commands(world.general)
    assert "report" in commands
    assert not any(c.startswith(("case ", "cases ")) for c in commands)
    assert {"case view", "case reveal", "cases member", "cases open"} <= set(
        world.mod.available_commands(world.general)
    )


# ---------------------------------------------------------------------- limits


async def test_rate_limits_are_explained_kindly_and_lift(world: World) -> None:
    await _configure(world)
    for _ in range(3):
        await _report_member(world, world.alice, world.bob)
    refused = await world.alice.slash(world.general, "report", member=world.bob, reason="again")
    assert refused.modal is None and refused.ephemeral
    assert "several reports in a short time" in refused.response.content and "<t:" in refused.response.content
    posted = await world.bob.send(world.general, "hm")
    refused = await world.alice.context_menu(world.general, "Report message", posted)
    assert refused.modal is None and "several reports" in refused.response.content
    # Others are not affected.
    assert (await world.carol.slash(world.general, "report", member=world.bob, reason="x")).modal is not None
    await world.advance(10 * 60 + 1)
    assert (await world.alice.slash(world.general, "report", member=world.bob, reason="again")).modal is not None


async def test_daily_limit_is_configurable(world: World) -> None:
    await _configure(world)
    r = await world.owner.slash(world.general, "setup reports limits", **{"per-window": 20, "per-day": 2})
    assert r.ephemeral and "up to 20 reports per 10 minutes and 2 per day" in r.response.content
    world.allow_command_for("setup", world.alice)
    denied = await world.alice.slash(world.general, "setup reports limits", **{"per-day": 100})
    assert "permissions" in denied.response.content.lower()
    await _report_member(world, world.alice, world.bob)
    await world.advance(3600)
    await _report_member(world, world.alice, world.bob)
    refused = await world.alice.slash(world.general, "report", member=world.bob, reason="third")
    assert refused.modal is None and "today's number of reports" in refused.response.content
    await world.advance(23 * 3600)
    assert (await world.alice.slash(world.general, "report", member=world.bob, reason="3")).modal is not None


async def test_cannot_report_yourself_or_a_bot(world: World) -> None:
    await _configure(world)
    r = await world.alice.slash(world.general, "report", member=world.alice, reason="me")
    assert r.modal is None and "can't report yourself" in r.response.content
    other_bot = world.guild.add_member(world.env.create_user("helperbot", bot=True))
    r = await world.alice.slash(world.general, "report", member=other_bot, reason="spam")
    assert r.modal is None and "Bots can't be reported" in r.response.content
    own = await world.alice.send(world.general, "my own words")
    r = await world.alice.context_menu(world.general, "Report message", own)
    assert r.modal is None and "can't report yourself" in r.response.content
    assert await world.services.reports.open_cases(world.guild.id) == []


# ---------------------------------------------------------------------- moderators' work


async def test_claim_note_resolve_update_the_embed_and_the_audit_log(world: World) -> None:
    await _configure(world)
    await _report_member(world, world.alice, world.bob)
    r = await world.mod.click(_case_message(world.mods), label="Claim")
    embed = _case_message(world.mods).embeds[0]
    assert r.acknowledged and embed.title == "Case #1 · claimed"
    assert f"<@{world.mod.id}>" in _field(embed, "Claimed by")
    again = await world.mod.click(_case_message(world.mods), label="Claim")
    assert "already claimed" in again.response.content
    shown = await world.mod.click(_case_message(world.mods), label="Add note")
    assert shown.modal is not None
    await world.mod.submit_modal(shown, {"note": "Spoke with bob."})
    assert "Spoke with bob." in _field(_case_message(world.mods).embeds[0], "History")
    await world.mod.click(_case_message(world.mods), label="Dismiss")
    message = _case_message(world.mods)
    assert message.embeds[0].title == "Case #1 · dismissed"
    disabled = {c.label for row in message.components for c in row.children if c.disabled}
    assert disabled == {"Claim", "Mediate", "Resolve", "Dismiss"}
    history = [e.action for e in (await world.services.reports.case(world.guild.id, 1)).history]
    assert history == ["filed", "claim", "note", "dismiss"]


async def test_restart_keeps_claimed_cases_buttons_working(world: World) -> None:
    await _configure(world)
    r = await _report_member(world, world.alice, world.bob)
    await world.alice.click(r.response, label="Tell me when it's closed")
    await _report_member(world, world.carol, world.bob, reason="Second case")
    await world.mod.click(_case_message(world.mods, 1), label="Claim")
    await world.mod.click(_case_message(world.mods, 2), label="Claim")

    await world.restart(clean=False)

    await world.mod.click(_case_message(world.mods, 1), label="Resolve")
    assert _case_message(world.mods, 1).embeds[0].title == "Case #1 · resolved"
    shown = await world.mod.click(_case_message(world.mods, 2), label="Add note")
    await world.mod.submit_modal(shown, {"note": "after the restart"})
    assert "after the restart" in _field(_case_message(world.mods, 2).embeds[0], "History")
    # The reporter who opted in hears that it's closed; the other reporter did not ask.
    assert "case #1" in world.alice.user.dm_channel.last_message.content
    assert world.carol.user.dm_channel.last_message is None
    # Nothing was delivered twice by the new process.
    await world.advance(120)
    await world.tick("reports.deliver")
    assert len(_case_messages(world.mods)) == 2


async def test_case_view_and_lists(world: World) -> None:
    await _configure(world)
    await _report_member(world, world.alice, world.bob)
    await _report_member(world, world.carol, world.alice, reason="Alice was unkind")
    await world.mod.click(_case_message(world.mods, 1), label="Resolve")
    r = await world.mod.slash(world.general, "case view", id=2)
    assert r.ephemeral and r.response.embeds[0].title == "Case #2 · open"
    r = await world.mod.slash(world.general, "cases member", member=world.bob)
    assert r.ephemeral and "#1" in r.response.embeds[0].description and "resolved" in r.response.embeds[0].description
    r = await world.mod.slash(world.general, "cases open")
    description = r.response.embeds[0].description
    assert "#2" in description and "[#1]" not in description
    r = await world.mod.slash(world.general, "case view", id=99)
    assert r.ephemeral and "couldn't find that case" in r.response.content


# ---------------------------------------------------------------------- mediation


async def test_mediation_invites_by_dm_joins_only_with_consent_and_closes_with_an_outcome(world: World) -> None:
    await _configure(world)
    closed: list[ConflictClosed] = []

    async def on_closed(event: ConflictClosed) -> None:
        closed.append(event)

    world.services.ctx.events.subscribe(ConflictClosed, on_closed)
    await _report_member(world, world.alice, world.bob)
    r = await world.mod.click(_case_message(world.mods), label="Mediate")
    assert "Mediation opened" in r.followups[-1].content
    thread = next(t for t in world.help.threads if t.name == "Mediation #1")
    stored = world.env.backend.get_channel(thread.id)
    assert stored.type == discord.ChannelType.private_thread.value
    assert set(stored.thread_members) == {world.bot.user.id, world.mod.id}  # nobody pulled in
    embed = _case_message(world.mods).embeds[0]
    assert embed.title == "Case #1 · in mediation" and f"<#{thread.id}>" in _field(embed, "Mediation")

    bob_invite = world.bob.user.dm_channel.last_message
    alice_invite = world.alice.user.dm_channel.last_message
    assert "Join" in [c.label for row in bob_invite.components for c in row.children]
    assert "other person will see you" in alice_invite.content
    joined = await world.bob.user.click(bob_invite, label="Join")
    assert set(stored.thread_members) == {world.bot.user.id, world.mod.id, world.bob.id}
    assert joined.acknowledged
    assert "Joined the mediation" in _field(_case_message(world.mods).embeds[0], "History")

    await world.mod.click(_case_message(world.mods), label="Close: no agreement")
    case = await world.services.reports.case(world.guild.id, 1)
    assert case.report.mediation_outcome == "no_agreement" and case.report.state == "claimed"
    assert stored.thread_metadata.archived and stored.thread_metadata.locked
    assert closed == [ConflictClosed(world.guild.id, case.report.id, world.mod.id, "no_agreement", world.now())]
    embed = _case_message(world.mods).embeds[0]
    assert _field(embed, "Mediation") == "No agreement"
    # alice never answered: a late Join adds nobody.
    late = await world.alice.user.click(alice_invite, label="Join")
    assert "already ended" in late.response.content and world.alice.id not in stored.thread_members


async def test_joining_a_mediation_whose_thread_was_deleted_is_answered_kindly(world: World) -> None:
    await _configure(world)
    await _report_member(world, world.alice, world.bob)
    await world.mod.click(_case_message(world.mods), label="Mediate")
    thread = next(t for t in world.help.threads if t.name == "Mediation #1")
    await world.owner_deletes(thread)
    joined = await world.bob.user.click(world.bob.user.dm_channel.last_message, label="Join")
    assert "no longer there" in joined.response.content and not joined.response.components


async def test_mediation_needs_a_help_channel(world: World) -> None:
    await _configure(world, help_channel_id=None)
    await _report_member(world, world.alice, world.bob)
    r = await world.mod.click(_case_message(world.mods), label="Mediate")
    assert r.ephemeral and "/setup help-channel" in r.response.content
    assert (await world.services.reports.case(world.guild.id, 1)).report.state == "open"


async def test_replies_in_german(world: World) -> None:
    await _configure(world)
    world.set_locale(world.alice, "de")
    shown = await world.alice.slash(world.general, "report", member=world.bob, reason="gemein")
    assert shown.modal["title"] == "Ein Mitglied melden"
    r = await world.alice.submit_modal(shown, {})
    assert "Fall #1" in r.response.content


async def test_a_report_claimed_by_a_crashed_process_is_delivered_once_after_restart(world: World) -> None:
    await world.configure(mod_role_id=world.mod_role.id)  # not deliverable yet
    await _report_member(world, world.alice, world.bob)
    await world.configure(mod_channel_id=world.mods.id)
    # The old process claims the report for delivery and dies before sending.
    claim = await world.services.reports.claim_delivery(1, world.now() + timedelta(seconds=61))
    assert claim is not None
    await world.restart(clean=False)
    await world.advance(61)
    await world.tick("reports.deliver")
    assert _case_messages(world.mods) == []  # the lease is still held
    await world.advance(120)
    await world.tick("reports.deliver")
    await world.advance(120)
    await world.tick("reports.deliver")
    assert len(_case_messages(world.mods)) == 1


async def test_mediation_thread_refused_by_discord_changes_nothing(world: World) -> None:
    await _configure(world)
    await _report_member(world, world.alice, world.bob)
    world.env.inject_error("POST", f"/channels/{world.help.id}/threads", status=403, code=50013, times=1)
    r = await world.mod.click(_case_message(world.mods), label="Mediate")
    assert "couldn't open a private thread" in r.followups[-1].content
    assert (await world.services.reports.case(world.guild.id, 1)).report.state == "open"
    assert world.bob.user.dm_channel.last_message is None  # nobody was invited


async def test_long_multiline_details_still_reach_the_moderators(world: World) -> None:
    """1,000 characters over 20 lines: quote marks must not push the embed field past 1,024."""
    await _configure(world)
    details = "\n".join(["x" * 48] * 20)[:1000]
    shown = await world.alice.slash(world.general, "report", member=world.bob, reason="Long story")
    r = await world.alice.submit_modal(shown, {"details": details})
    assert r.ephemeral and "case #1" in r.response.content
    field = _field(_case_message(world.mods).embeds[0], "Details")
    assert len(field) <= 1024 and field.startswith("> xxx")
