"""The shape of the house (python-discord's tests/bot/exts/test_cogs.py, in spirit)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import discord
from discord import app_commands
from sqlmodel import SQLModel

import bot.models
from bot.app import all_extensions

ROOT = Path(__file__).resolve().parents[1]


def test_every_extension_imports_and_has_setup() -> None:
    names = all_extensions()
    assert names[0] == "cogs.setup", "setup must load first: other cogs add /setup subcommands"
    for name in names:
        module = importlib.import_module(name)
        assert callable(getattr(module, "setup", None)), f"{name} has no setup()"
    helpers = {
        "cogs.help_views",
        "cogs.help_delivery",
        "cogs.reports_views",
        "cogs.reports_delivery",
        "cogs.checkins_views",
        "cogs.checkins_delivery",
    }
    assert not helpers & set(names), "helper modules (*_views, *_delivery) are not extensions"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_services_and_models_never_import_discord() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for folder in ("bot/services", "bot/models")
        for p in (ROOT / folder).rglob("*.py")
        if {"discord", "cogs"} & _imports(p)
    ]
    assert offenders == []


def test_services_do_not_pull_discord_in_even_indirectly() -> None:
    code = "import sys, bot.services, bot.models; print('discord' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "a service or model imports something that imports discord"


def test_no_session_waits_for_another_task_or_publishes() -> None:
    """On SQLite this process's sessions and direct transactions take turns (``Database.session``):
    one that waits for another task (which may open a session of its own), or publishes an event
    whose subscribers may, would wait for its own turn forever."""
    forbidden = {"gather", "create_task", "wait_for", "shield", "wait", "publish", "to_thread"}
    offenders = []
    for folder in ("bot", "cogs"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.AsyncWith):
                    continue
                if not any(
                    opens in ast.unparse(item.context_expr) for item in node.items for opens in ("session(", "direct(")
                ):
                    continue
                for inner in (n for stmt in node.body for n in ast.walk(stmt)):
                    func = inner.func if isinstance(inner, ast.Call) else None
                    name = getattr(func, "attr", getattr(func, "id", None))
                    if name in forbidden:
                        offenders.append(f"{path.relative_to(ROOT)}:{inner.lineno} {name}")
    assert offenders == []


def test_every_table_declares_its_personal_data() -> None:
    bot.models.load_all()
    missing = [
        mapper.class_.__name__ for mapper in SQLModel._sa_registry.mappers if "__personal__" not in vars(mapper.class_)
    ]
    assert missing == [], "declare __personal__ (see bot/models/base.py)"
    for mapper in SQLModel._sa_registry.mappers:
        personal = vars(mapper.class_)["__personal__"]
        columns = set(mapper.columns.keys())
        assert set(personal) <= columns, f"{mapper.class_.__name__}.__personal__ names unknown columns"
        confidential = set(getattr(mapper.class_, "__confidential__", ()))
        assert confidential <= set(personal), f"{mapper.class_.__name__}.__confidential__ names non-personal columns"
        others = set(getattr(mapper.class_, "__export_for_others__", ()))
        assert others <= columns - confidential, f"{mapper.class_.__name__}.__export_for_others__ is wrong"
        assert set(personal.values()) <= {"delete", "anonymize"}


async def test_command_names_are_unique_and_translated(world) -> None:
    tree = world.bot.tree
    seen: set[tuple[str, int]] = set()
    for command in tree.get_commands(type=None):
        key = (command.name, getattr(command, "type", discord.AppCommandType.chat_input).value)
        assert key not in seen, f"duplicate command {command.name}"
        seen.add(key)
    payload = [c.to_dict(tree) for c in tree.get_commands(type=None)]
    assert payload  # the sync body itself is validated against Discord's spec by the world fixture
    sync = world.requests("PUT", "/commands")
    assert sync, "commands were synced at start-up"
    for command in sync[-1].json:
        if command.get("type", 1) == 1:
            assert command.get("name_localizations", {}).get("de"), f"/{command['name']} has no German name"
            assert command.get("description_localizations", {}).get("de"), f"/{command['name']} lacks German text"


async def test_bot_reaches_ready_and_syncs_globally_without_dev_guild(world) -> None:
    assert world.bot.is_ready() and world.bot.user is not None
    paths = [r.path for r in world.requests("PUT", "/commands")]
    assert paths and all("/guilds/" not in p for p in paths)
    assert {c.name for c in world.bot.synced_commands} >= {"setup"}


def test_app_commands_are_guild_only_or_safe_in_dms() -> None:
    # Not a rule for every command, but /setup must never run in DMs.
    from cogs.setup import SetupCog

    assert isinstance(SetupCog.setup, app_commands.Group) and SetupCog.setup.guild_only


async def test_dev_guild_gets_commands_instantly(test_db) -> None:
    from bot.config import Settings
    from tests.harness.world import FAKE_TOKEN, running_world

    dev = 1_456_074_443_980_899_999
    settings = Settings(discord_token=FAKE_TOKEN, database_url=test_db.url, dev_guild_id=dev)
    async with running_world(test_db, settings=settings, extensions=["cogs.setup"]) as w:
        paths = [r.path for r in w.requests("PUT", "/commands")]
        assert paths == [f"/applications/{w.bot.application_id}/guilds/{dev}/commands"]
        assert [c.name for c in w.bot.synced_commands] == ["setup"]
