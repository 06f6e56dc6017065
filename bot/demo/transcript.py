"""What members and moderators saw, written down as a moderator would want to read it.

After every action the :class:`Transcript` looks at every channel, thread and DM of the demo
server and writes down what is new or changed: who can see it, the text, the embeds and the
buttons. Ephemeral replies are marked "only <name> can see this". Besides the text it keeps
each entry as data (``entries``), which ``transcript.json`` holds for tools and tests.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
from simcord.results import to_discord_message

WIDTH = 96
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_CHANNEL = re.compile(r"<#(\d+)>")
_COMMAND = re.compile(r"</([^:>]+):\d+>")
_TIME = re.compile(r"<t:(-?\d+)(?::[tTdDfFR])?>")
_LINK = re.compile(r"\[([^\]]+)\]\((?:https?://[^)]+)\)")
_QUOTE = re.compile(r"^> ?", re.MULTILINE)


@dataclass
class Entry:
    """One thing that happened, as data."""

    step: int
    kind: str  # "step", "action", "form", "message", "edit", "note"
    text: str
    actor: str | None = None
    where: str | None = None  # "#general", "#help › Can't sleep", "DM with carol"
    # Who can see it: "everyone" (a public channel), "moderators" (the private channel),
    # "thread" (a private thread's members), "only:<name>" (ephemeral), "dm:<name>".
    audience: str | None = None
    raw: str = ""  # messages: the content, embeds and components as Discord sent them (ids, not names)
    pinged: list[str] = field(default_factory=list)  # whom the message notified


@dataclass
class Transcript:
    """Collects entries and prints them as they happen."""

    env: Any  # a started simcord.Env
    names: dict[int, str]
    channels: Callable[[], Iterable[tuple[Any, str, str]]]  # (channel handle, where, audience)
    out: Callable[[str], None] = print
    entries: list[Entry] = field(default_factory=list)
    step_no: int = 0
    _seen: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    _bodies: dict[int, list[str]] = field(default_factory=dict)

    # ------------------------------------------------------------------ what people did

    def step(self, title: str, why: str = "") -> None:
        """Begin a chapter of the story."""
        self.catch_up()
        self.step_no += 1
        heading = f"{self.step_no}. {title}"
        self._emit(Entry(self.step_no, "step", title), ["", heading, "═" * len(heading)])
        if why:
            self._emit(Entry(self.step_no, "note", why), _wrap(why, "   "))

    def note(self, text: str) -> None:
        """A line of narration (not something anyone saw in Discord)."""
        self.catch_up()
        self._emit(Entry(self.step_no, "note", text), _wrap(text, "   "))

    def action(self, actor: Any, text: str) -> None:
        """``actor`` did something (a command, a click, a message)."""
        self.catch_up()
        name = self.name(actor.id)
        self._emit(Entry(self.step_no, "action", text, actor=name), ["", f"▶ {name} {text}"])

    def form(self, actor: Any, modal: dict[str, Any] | None, values: dict[str, Any]) -> None:
        """``actor`` was shown a form (a modal) and filled it in with ``values``."""
        if modal is None:
            raise DemoStepError(f"{self.name(actor.id)} expected a form, but none was shown")
        name = self.name(actor.id)
        lines = [f"  ┌ form “{modal.get('title', '')}” (only {name} can see this)"]
        for label, value in _modal_fields(modal, values):
            shown = "(left empty)" if value in ("", None, []) else _display(value)
            lines.append(f"  │ {label}: {shown}")
        lines.append(f"  └ {name} presses Submit")
        self._emit(
            Entry(self.step_no, "form", "\n".join(lines[1:-1]), actor=name, audience=f"only:{name}"),
            lines,
        )

    # ------------------------------------------------------------------ what people saw

    def catch_up(self) -> None:
        """Write down every message that is new or changed since the last look."""
        fresh: list[tuple[Any, str, str, bool]] = []
        for channel, where, audience in self.channels():
            # SimCord's store holds every message, ephemeral ones included (each with its viewer).
            for message in self.env.backend.messages.get(channel.id, {}).values():
                print_ = _fingerprint(message)
                before = self._seen.get(message.id)
                if before == print_:
                    continue
                self._seen[message.id] = print_
                fresh.append((message, where, audience, before is not None))
        for stored, where, audience, edited in sorted(fresh, key=lambda item: item[0].id):
            self._message(stored, to_discord_message(self.env, stored), where, audience, edited=edited)

    def _message(self, stored: Any, message: discord.Message, where: str, audience: str, *, edited: bool) -> None:
        author = self.name(message.author.id)
        if message.flags.ephemeral and message.interaction_metadata is not None:
            audience = f"only:{self.name(message.interaction_metadata.user.id)}"
        seen_by = _audience_text(audience)
        raw = json.dumps({"content": stored.content, "embeds": stored.embeds, "components": stored.components})
        entry = Entry(self.step_no, "edit" if edited else "message", "", author, where, audience, raw=raw)
        if message.type in (discord.MessageType.thread_created, discord.MessageType.channel_name_change):
            entry.text = message.content
            self._emit(entry, [f"  {author} starts a thread in {where}: “{message.content}” — {seen_by}"])
            return
        body = self._body(message)
        entry.text = "\n".join(body)
        entry.pinged = [self.name(i) for i in (*stored.ping_user_ids, *stored.ping_role_ids)]
        before = self._bodies.get(message.id)
        self._bodies[message.id] = body
        if before is not None:
            # An edit: the first line (to know which message it is), then the lines that are new.
            plain = [_unboxed(line) for line in body if not line.startswith(("┌", "└"))]
            old = {_unboxed(line) for line in before}
            shown = plain[:1] + [f"+ {line}" for line in plain[1:] if line not in old]
            head = f"  {author} updates its message in {where} — {seen_by}. New lines:"
        else:
            verb = "posts" if message.author.bot else "writes"
            head = f"  {author} {verb} in {where} — {seen_by}:"
            shown = list(body)
            if entry.pinged:
                shown.append("🔔 notifies " + ", ".join(f"@{p}" for p in entry.pinged) + " (nobody else is pinged)")
        self._emit(entry, [head, *("    " + line if line else "" for line in shown)])

    def _body(self, message: discord.Message) -> list[str]:
        lines: list[str] = []
        if message.content:
            lines += _wrap(self.resolve(message.content))
        for embed in message.embeds:
            lines += self._embed(embed)
        for attachment in message.attachments:
            lines.append(f"📎 {attachment.filename}")
        for row in message.components:
            lines += self._row(row)
        return lines or ["(empty message)"]

    def _embed(self, embed: discord.Embed) -> list[str]:
        inner: list[str] = []
        if embed.author and embed.author.name:
            inner.append(self.resolve(embed.author.name))
        if embed.title:
            inner.append(self.resolve(embed.title))
        if embed.description:
            inner += _wrap(self.resolve(embed.description), width=WIDTH - 8)
        for f in embed.fields:
            value = self.resolve(f.value or "")
            if "\n" in value or len(value) + len(f.name or "") > WIDTH - 12:
                inner.append(f"{self.resolve(f.name or '')}:")
                inner += _wrap(value, "  ", width=WIDTH - 8)
            else:
                inner.append(f"{self.resolve(f.name or '')}: {value}")
        if embed.footer and embed.footer.text:
            inner.append(f"— {self.resolve(embed.footer.text)}")
        if not inner:
            return []
        return ["┌" + "─" * 40, *("│ " + line for line in inner), "└" + "─" * 40]

    def _row(self, row: Any) -> list[str]:
        active: list[str] = []
        greyed: list[str] = []
        for item in getattr(row, "children", []):
            if isinstance(item, discord.Button):
                label = f"{item.emoji} {item.label}" if item.emoji and item.label else (item.label or str(item.emoji))
                (greyed if item.disabled else active).append(f"[{label}]")
            elif isinstance(item, discord.SelectMenu):
                options = ", ".join(o.label for o in item.options)
                active.append(
                    f"[▾ {item.placeholder or 'choose'}: {options}]" if options else f"[▾ {item.placeholder}]"
                )
        lines = ["buttons: " + "  ".join(active)] if active else []
        return lines + (["greyed out: " + "  ".join(greyed)] if greyed else [])

    # ------------------------------------------------------------------ helpers

    def name(self, snowflake: int) -> str:
        """The demo's name for a user, role or channel id."""
        return self.names.get(snowflake, "someone")

    def resolve(self, text: str) -> str:
        """Mentions as Discord shows them: ``@name``, ``#channel``, ``/command``, a readable time."""
        text = _USER.sub(lambda m: "@" + self.name(int(m.group(1))), text)
        text = _ROLE.sub(lambda m: "@" + self.name(int(m.group(1))), text)
        text = _CHANNEL.sub(lambda m: "#" + self.name(int(m.group(1))), text)
        text = _COMMAND.sub(lambda m: "/" + m.group(1), text)
        text = _TIME.sub(lambda m: datetime.fromtimestamp(int(m.group(1)), UTC).strftime("%a %d %b %H:%M UTC"), text)
        # Markdown as a reader sees it: bold without asterisks, quotes as a bar, links by their text.
        text = _LINK.sub(lambda m: f"{m.group(1)} ↗", text.replace("**", ""))
        return _QUOTE.sub("▎ ", text)

    def _emit(self, entry: Entry, lines: list[str]) -> None:
        self.entries.append(entry)
        for line in lines:
            self.out(line)

    def as_data(self) -> list[dict[str, Any]]:
        """The entries as plain data (for ``transcript.json``)."""
        return [asdict(e) for e in self.entries]


class DemoStepError(Exception):
    """A step of the story did not happen as it should have."""


def _unboxed(line: str) -> str:
    return line[2:] if line.startswith("│ ") else line


def _audience_text(audience: str) -> str:
    if audience.startswith("only:"):
        return f"only {audience[5:]} can see this"
    if audience.startswith("dm:"):
        return f"a direct message only {audience[3:]} can see"
    return {
        "everyone": "everyone in the server can see this",
        "moderators": "only moderators can see this channel",
        "thread": "only the people added to this private thread can see it",
    }.get(audience, audience)


def _fingerprint(stored: Any) -> tuple[Any, ...]:
    return (stored.content, repr(stored.embeds), repr(stored.components))


# Modal inputs: selects (3, 5-8), text input (4), file upload (19), radio group (21), checkboxes (22, 23).
_INPUTS = (3, 4, 5, 6, 7, 8, 19, 21, 22, 23)


def _modal_fields(modal: dict[str, Any], values: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) for each input of a raw modal payload, in the order shown."""
    out: list[tuple[str, Any]] = []

    def walk(component: dict[str, Any], label: str | None = None) -> None:
        custom_id = component.get("custom_id")
        label = component.get("label") or label
        if custom_id is not None and component.get("type") in _INPUTS:
            value = values.get(custom_id, "")
            options = {o.get("value"): o.get("label") for o in component.get("options") or []}
            if options:
                chosen = value if isinstance(value, list) else [value]
                value = [options.get(v, v) for v in chosen if v not in ("", None)]
            out.append((label or custom_id, value))
            return
        children = component.get("components") or []
        if component.get("component") is not None:
            children = [component["component"]]
        for child in children:
            walk(child, label)

    for component in modal.get("components", []):
        walk(component)
    return out


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return f"“{value}”"


def _wrap(text: str, indent: str = "", width: int = WIDTH) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        wrapped = textwrap.wrap(paragraph, width=width, initial_indent=indent, subsequent_indent=indent)
        lines += wrapped or [indent.rstrip()]
    return lines
