"""The story ``python -m bot demo`` plays: a week in a small support server.

Every step is done the way a person does it in Discord — a slash command, a button, a form —
through SimCord, so the real bot answers. Each step checks that what should have happened did
(:class:`DemoStepError` otherwise) and the :class:`~bot.demo.transcript.Transcript` writes down
what everyone saw.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.demo.transcript import DemoStepError, Entry, Transcript
from bot.demo.world import Community

# The virtual clock starts on Thursday 2026-01-01 00:00 UTC; the weekly check-in goes out on Monday.
MONDAY_10 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
PRIVATE_THREAD = 12  # Discord's channel type: only the members added can see it

# shoot(name, channel, viewer, target, layout) takes a picture (or does nothing without a browser).
Shoot = Callable[[str, Any, Any, Any, str], Awaitable[None]]


@dataclass
class Cast:
    """The server and its people."""

    c: Community
    max: Any  # the member who is reported

    @property
    def people(self) -> list[Any]:
        """Everyone in the server, the owner first."""
        return [self.c.owner, self.c.mod, self.c.alice, self.c.bob, self.c.carol, self.max]


STEPS = (
    "Setup: the owner, sam, configures Kinship",
    "A helper signs up: bob, for anxiety",
    "A member asks for help: alice",
    "The helper answers in the thread",
    "Resolved, and a thank-you from alice to bob",
    "Monday: the weekly check-in",
    "A report: carol reports a hurtful message from max",
    "A moderator, jordan, handles the case",
)


class Story:
    """Plays the steps; ``env`` is a started ``simcord.Env`` with the bot in it."""

    def __init__(self, env: Any, bot: Any, cast: Cast, transcript: Transcript, shoot: Shoot) -> None:
        self.env = env
        self.bot = bot
        self.cast = cast
        self.t = transcript
        self.shoot = shoot

    async def play(self) -> None:
        """Every step, in order."""
        for number, step in enumerate(
            (
                self.setup,
                self.helper_joins,
                self.ask,
                self.answer,
                self.resolve_and_thank,
                self.checkin,
                self.report,
                self.handle_case,
            )
        ):
            self.t.step(STEPS[number])
            await step()
        self.t.catch_up()

    # ------------------------------------------------------------------ the steps

    async def setup(self) -> None:
        c = self.cast.c
        self.t.note(
            "The server has #general, #help, #check-ins and a private #moderators channel that only "
            "the Moderators role (jordan) and Kinship can see. sam runs /setup:"
        )
        await self.slash(c.owner, c.general, "setup help-channel", channel=c.help)
        await self.slash(c.owner, c.general, "setup mod-channel", channel=c.mods)
        await self.slash(c.owner, c.general, "setup checkin-channel", channel=c.checkins)
        await self.slash(c.owner, c.general, "setup mod-role", role=c.mod_role)
        await self.slash(c.owner, c.general, "setup topics add", name="Anxiety")
        shown = await self.slash(c.owner, c.general, "setup show")
        settings = await self.bot.services.guilds.get(c.guild.id)
        expect(settings.mod_channel_id == c.mods.id and settings.help_channel_id == c.help.id, "setup was not stored")
        await self.shoot("01-setup-show", c.general, c.owner, shown, "message")

    async def helper_joins(self) -> None:
        c = self.cast.c
        await self.slash(c.bob, c.general, "helper join", topics="Anxiety")

    async def ask(self) -> None:
        c = self.cast.c
        await self.env.advance_time(60 * 20)
        shown = await self.slash(c.alice, c.general, "ask new", topic="Anxiety")
        await self.submit(
            c.alice,
            shown,
            {
                "title": "Can't sleep before my exam",
                "body": "My exam is tomorrow and my heart keeps racing. I can't switch off.",
                "wants": ["listening"],
                "note": "",
            },
        )
        expect(len(c.help.threads) == 1, "no help thread was opened")

    async def answer(self) -> None:
        c = self.cast.c
        thread = c.help.threads[0]
        await self.env.advance_time(60 * 3)
        await self.click(c.bob, self.starter(thread), "I can help")
        await self.env.advance_time(60)
        await self.send(c.bob, thread, "I'm here. Exams before bed are the worst. Want to try a slow breathing trick?")
        await self.env.advance_time(60 * 4)
        await self.send(c.alice, thread, "Yes please. That helped a bit, thank you.")
        await self.shoot("02-help-thread", thread, c.alice, self.starter(thread), "channel")

    async def resolve_and_thank(self) -> None:
        c = self.cast.c
        thread = c.help.threads[0]
        await self.env.advance_time(60 * 10)
        resolved = await self.click(c.alice, self.starter(thread), "Resolved")
        offer = resolved.followups[-1] if resolved.followups else resolved.response
        thanked = await self.click(c.alice, offer, f"Thank {c.bob.name}")
        points = await self.bot.services.recognition.points(c.guild.id, c.bob.id, self.env.now())
        expect(points.total > 0, "bob got no recognition for helping")
        await self.shoot("03-thanks", thread, c.alice, thanked, "channel")

    async def checkin(self) -> None:
        c = self.cast.c
        self.t.note("The clock jumps to Monday 10:00 UTC (SimCord's virtual clock: no real waiting).")
        self.env.backend.clock.advance((MONDAY_10 - self.env.now()).total_seconds())
        await self.env.settle()
        await self.bot.scheduler.run("checkins.post", self.env.now())
        await self.env.settle()
        posts = [m for m in c.checkins.history() if m.components]
        expect(len(posts) == 1, "the weekly check-in was not posted")
        await self.env.advance_time(60 * 30)
        shown = await self.click(c.alice, posts[0], "Check in")
        done = await self.submit(c.alice, shown, {"mood": "4", "note": "Exam went okay. Slept better.", "share": False})
        await self.env.advance_time(60 * 5)
        await self.click(c.bob, posts[0], "Not this week")
        await self.shoot("04-checkin", c.checkins, c.alice, done, "channel")

    async def report(self) -> None:
        c = self.cast.c
        await self.env.advance_time(60 * 60)
        rude = await self.send(self.cast.max, c.general, "Honestly nobody here cares about your little problems.")
        await self.env.advance_time(60 * 2)
        self.t.action(c.carol, "right-clicks max's message → Apps → Report message")
        shown = await c.carol.context_menu(c.general, "Report message", rude)
        receipt = await self.submit(
            c.carol,
            shown,
            {
                "reason": "Mocking people who ask for help",
                "details": "Third time this week. It scares new members off.",
            },
        )
        expect(receipt.response is not None and "case #1" in receipt.response.content, "no case number for carol")
        await self.click(c.carol, receipt.response, "Tell me when it's closed")
        await self.shoot("05-report-receipt", c.general, c.carol, receipt, "channel")
        await self.shoot("06-case-open", c.mods, c.mod, self.case_message(), "message")

    async def handle_case(self) -> None:
        c = self.cast.c
        await self.env.advance_time(60 * 15)
        await self.click(c.mod, self.case_message(), "Claim")
        shown = await self.click(c.mod, self.case_message(), "Add note")
        await self.submit(c.mod, shown, {"note": "Talked to max in DMs; he apologised and will keep it kind."})
        await self.env.advance_time(60 * 5)
        await self.click(c.mod, self.case_message(), "Resolve")
        case = await self.bot.services.reports.case(c.guild.id, 1)
        expect(case.report.state == "resolved", "the case was not resolved")
        await self.slash(c.mod, c.general, "case view", id=1)
        await self.shoot("07-case-resolved", c.mods, c.mod, self.case_message(), "message")
        dm = c.carol.user.dm_channel
        expect(dm.last_message is not None and "case #1" in dm.last_message.content, "carol heard nothing back")
        await self.shoot("08-reporter-dm", dm, c.carol.user, dm.last_message, "message")

    # ------------------------------------------------------------------ doing things, written down

    async def slash(self, actor: Any, where: Any, command: str, /, **options: Any) -> Any:
        shown = " ".join(f"{k}: {self._option(v)}" for k, v in options.items())
        self.t.action(actor, f"runs /{command} {shown}".rstrip() + f" in #{where.name}")
        return await actor.slash(where, command, **options)

    async def click(self, actor: Any, message: Any, label: str) -> Any:
        self.t.action(actor, f"presses [{label}]")
        return await actor.click(message, label=label)

    async def submit(self, actor: Any, shown: Any, values: dict[str, Any]) -> Any:
        self.t.form(actor, shown.modal, values)
        return await actor.submit_modal(shown, values)

    async def send(self, actor: Any, channel: Any, text: str) -> Any:
        self.t.catch_up()
        return await actor.send(channel, text)

    @staticmethod
    def _option(value: Any) -> str:
        mention = str(getattr(value, "mention", ""))
        if mention.startswith("<#"):
            return f"#{value.name}"
        if mention.startswith("<@"):
            return f"@{value.name}"
        return str(value)

    @staticmethod
    def starter(thread: Any) -> Any:
        return thread.history()[0]

    def case_message(self) -> Any:
        found = [m for m in self.cast.c.mods.history() if m.embeds and (m.embeds[0].title or "").startswith("Case #1")]
        expect(len(found) == 1, "the case did not reach the moderators' channel")
        return found[0]


def expect(condition: bool, problem: str) -> None:
    """Stop the demo when a step did not happen."""
    if not condition:
        raise DemoStepError(problem)


def channels_of(env: Any, cast: Cast, names: dict[int, str]) -> Callable[[], Iterator[tuple[Any, str, str]]]:
    """Every place a message can appear, with who can see it (threads and DMs included)."""
    c = cast.c

    def walk() -> Iterator[tuple[Any, str, str]]:
        for channel, audience in ((c.general, "everyone"), (c.help, "everyone"), (c.checkins, "everyone")):
            yield channel, f"#{channel.name}", audience
            for thread in channel.threads:
                names[thread.id] = thread.name
                private = env.backend.get_channel(thread.id).type == PRIVATE_THREAD
                yield thread, f"#{channel.name} › {thread.name}", "thread" if private else audience
        yield c.mods, "#moderators", "moderators"
        for thread in c.mods.threads:
            names[thread.id] = thread.name
            yield thread, f"#moderators › {thread.name}", "moderators"
        for person in cast.people:
            yield person.user.dm_channel, f"a DM to {person.name}", f"dm:{person.name}"

    return walk


SEEN = ("message", "edit", "form")  # entries someone saw in Discord (not the narration)


def what_it_shows(transcript: Transcript, cast: Cast) -> list[str]:
    """A few facts a moderator would check, counted from what was seen (not claimed)."""
    c = cast.c
    seen = [e for e in transcript.entries if e.kind in SEEN]
    reporter, reported = c.carol.name, cast.max.name
    for_mods = [e for e in seen if e.audience in ("moderators", f"only:{c.mod.name}", f"dm:{c.mod.name}")]
    for_reported = [e for e in seen if e.audience in (f"only:{reported}", f"dm:{reported}")]
    not_reporters = [e for e in seen if e.audience not in (f"only:{reporter}", f"dm:{reporter}")]
    leaks = [e for e in not_reporters if names_person(e, reporter, c.carol.id)]
    private = [e for e in seen if (e.audience or "").startswith(("only:", "dm:"))]
    pings: dict[str, int] = {}
    for entry in seen:
        for name in entry.pinged:
            pings[name] = pings.get(name, 0) + 1
    reported_got = f"{len(for_reported)} for {reported}" if for_reported else f"{reported} got nothing from Kinship"
    return [
        f"• The reporter's name ({reporter}) is in none of the {len(not_reporters)} messages and forms others saw"
        if not leaks
        else f"• WARNING: the reporter's name ({reporter}) is in {len(leaks)} messages others saw",
        f"  ({len(for_mods)} of them for the moderators; {reported_got}, though he was the one reported).",
        f"• {len(private)} replies and forms were private: only the person concerned could see them.",
        "• Kinship notified only " + ", ".join(f"@{name} ({n}×)" for name, n in sorted(pings.items())) + ".",
    ]


def names_person(entry: Entry, name: str, snowflake: int) -> bool:
    """Whether an entry shows ``name`` or carries the person's id."""
    return name.lower() in entry.text.lower() or str(snowflake) in entry.raw
