"""Tests for the Discord REST contract checker (tests/harness/contract.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands, ui
from discord.http import handle_message_parameters
from discord.webhook.async_ import interaction_message_response_params, interaction_response_params

from tests.harness import contract
from tests.harness.contract import Spec, check_requests, format_violations, load_spec

NO_PINGS: dict[str, Any] = {"parse": []}


@dataclass(frozen=True)
class Rec:
    """Stand-in for simcord's HttpLogEntry."""

    method: str
    path: str
    json: Any | None
    params: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def spec() -> Spec:
    loaded = load_spec()
    if loaded is None:
        where = os.environ.get(contract.SPEC_ENV_VAR) or contract.DEFAULT_SPEC_PATH
        pytest.skip(f"Discord OpenAPI spec not found at {where} (set {contract.SPEC_ENV_VAR}); not checked")
    return loaded


def msg(**body: Any) -> dict[str, Any]:
    return {"allowed_mentions": NO_PINGS, **body}


def send(body: Any, path: str = "/channels/123/messages", method: str = "POST") -> Rec:
    return Rec(method, path, body)


def callback(type_: int, data: Any = None) -> Rec:
    body: dict[str, Any] = {"type": type_}
    if data is not None:
        body["data"] = data
    return Rec("POST", "/interactions/111/tok/callback", body)


def put_commands(commands: list[dict[str, Any]]) -> Rec:
    return Rec("PUT", "/applications/1/commands", commands)


def slash(name: str = "ping", description: str = "Ping the bot", **extra: Any) -> dict[str, Any]:
    return {"type": 1, "name": name, "description": description, **extra}


def assert_ok(records: list[Rec], spec: Spec | None) -> None:
    violations = check_requests(records, spec)
    assert violations == [], format_violations(violations)


def assert_violation(records: list[Rec], spec: Spec | None, *needles: str) -> list[str]:
    violations = check_requests(records, spec)
    text = format_violations(violations)
    assert violations, "expected a violation"
    for needle in needles:
        assert needle in text, text
    return violations


# -- spec loading -----------------------------------------------------------------------------------


def test_load_spec_missing_returns_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_spec(tmp_path / "nope.json") is None
    monkeypatch.setenv(contract.SPEC_ENV_VAR, str(tmp_path / "missing.json"))
    assert load_spec() is None


def test_load_spec_honours_env_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"openapi": "3.1.0", "paths": {"/x/{id}": {"post": {}}}, "components": {"schemas": {}}}
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setenv(contract.SPEC_ENV_VAR, str(path))
    loaded = load_spec()
    assert loaded is not None
    assert loaded is load_spec() is load_spec(path)
    assert loaded.match("POST", "/x/5") == "/x/{id}"


def test_default_spec_path_is_next_to_repo() -> None:
    expected = contract.REPO_ROOT.parent / "shared/discord-api-spec/openapi.json"
    assert expected == contract.DEFAULT_SPEC_PATH
    assert (contract.REPO_ROOT / "pyproject.toml").exists()


def test_route_matching_prefers_literals_and_strips_api_prefix(spec: Spec) -> None:
    assert (
        spec.match("PATCH", "/webhooks/1/tok/messages/@original")
        == "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
    )
    assert (
        spec.match("PATCH", "/api/v10/webhooks/1/tok/messages/99")
        == "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
    )
    assert spec.match("POST", "/api/v10/channels/1/messages?x=1") == "/channels/{channel_id}/messages"


def test_validators_are_cached(spec: Spec) -> None:
    check_requests([send(msg(content="hi"))], spec)
    pointer = "/paths/~1channels~1{channel_id}~1messages/post/requestBody/content/application~1json/schema"
    assert spec.validator(pointer) is spec.validator(pointer)


# -- basic cases -----------------------------------------------------------------------------------


def test_valid_channel_message_passes(spec: Spec) -> None:
    body = msg(content="Welcome, <@42>!", tts=False, embeds=[{"title": "Hi", "description": "there"}])
    assert_ok([send(body)], spec)


def test_accepts_simcord_http_log_entries(spec: Spec) -> None:
    from simcord import HttpLogEntry

    good = HttpLogEntry("POST", "/channels/1/messages", {}, msg(content="hi"), None)
    bad = HttpLogEntry("POST", "/channels/1/messages", {}, {"content": "x" * 2001}, None)
    assert check_requests([good], spec) == []
    assert len(check_requests([bad], spec)) == 2  # too long + no allowed_mentions


def test_json_none_is_ignored(spec: Spec) -> None:
    assert_ok([Rec("PUT", "/channels/1/messages/2/reactions/%F0%9F%91%8D/@me", None)], spec)
    assert_ok([Rec("POST", "/totally/unknown", None)], spec)


def test_unknown_route_is_reported(spec: Spec) -> None:
    assert_violation([Rec("POST", "/channels/1/bogus-endpoint", {"a": 1})], spec, "no such operation in spec")
    assert_violation([Rec("PATCH", "/interactions/1/tok/callback", {"type": 4})], spec, "no such operation")


def test_schema_violation_is_reported(spec: Spec) -> None:
    assert_violation([send(msg(content="x", tts="yes"))], spec, "$.tts", "schema")


def test_content_2001_chars_fails(spec: Spec) -> None:
    assert_ok([send(msg(content="x" * 2000))], spec)
    for s in (spec, None):
        assert_violation([send(msg(content="x" * 2001))], s, "$.content", "2001 chars > 2000")


def test_26_embed_fields_fail() -> None:
    fields = [{"name": f"f{i}", "value": "v"} for i in range(26)]
    assert_violation([send(msg(embeds=[{"title": "t", "fields": fields}]))], None, "26 fields > 25")


def test_embed_text_limits() -> None:
    cases = [
        ({"title": "x" * 257}, "$.embeds[0].title"),
        ({"description": "x" * 4097}, "$.embeds[0].description"),
        ({"fields": [{"name": "n" * 257, "value": "v"}]}, "$.embeds[0].fields[0].name"),
        ({"fields": [{"name": "n", "value": "v" * 1025}]}, "$.embeds[0].fields[0].value"),
        ({"footer": {"text": "f" * 2049}}, "$.embeds[0].footer.text"),
        ({"author": {"name": "a" * 257}}, "$.embeds[0].author.name"),
    ]
    for embed, where in cases:
        assert_violation([send(msg(embeds=[embed]))], None, where)
    two = [{"description": "x" * 4000}, {"description": "y" * 2001}]
    assert_violation([send(msg(embeds=two))], None, "6001 chars of embed text > 6000")
    assert_violation([send(msg(embeds=[{"title": "t"}] * 11))], None, "11 embeds > 10")


def test_nonce_limit() -> None:
    assert_violation([send(msg(content="x", nonce="n" * 26))], None, "$.nonce")


# -- components --------------------------------------------------------------------------------------


def button(i: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": f"b{i}", "custom_id": f"c{i}", **extra}


def row(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(children)}


def test_component_limits() -> None:
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([row(button(i)) for i in range(6)], "6 top-level components"),
        ([row(*(button(i) for i in range(6)))], "6 buttons in one row"),
        ([row(button(label="l" * 81))], "label: 81 chars > 80"),
        ([row(button(custom_id="c" * 101))], "custom_id: length 101 not in 1-100"),
        ([row(button(custom_id=""))], "custom_id: length 0 not in 1-100"),
        (
            [
                row(
                    {
                        "type": 3,
                        "custom_id": "s",
                        "options": [{"label": str(i), "value": str(i)} for i in range(26)],
                    }
                )
            ],
            "26 select options > 25",
        ),
        ([row({"type": 3, "custom_id": "s", "placeholder": "p" * 151, "options": []})], "placeholder: 151"),
    ]
    for components, needle in cases:
        assert_violation([send(msg(content="x", components=components))], None, needle)


def test_components_v2_total_limit() -> None:
    texts = [{"type": 10, "content": "t"} for _ in range(40)]
    body = {"flags": 1 << 15, "components": [{"type": 17, "components": texts}], "allowed_mentions": NO_PINGS}
    assert_violation([send(body)], None, "41 components in total > 40")
    body["components"][0]["components"] = texts[:39]
    assert_ok([send(body)], None)


# -- interaction callbacks -------------------------------------------------------------------------


def test_callback_type_4_ephemeral_passes(spec: Spec) -> None:
    data = {"tts": False, "content": "Only you can see this", "flags": 64, "allowed_mentions": NO_PINGS}
    assert_ok([callback(4, data)], spec)


def test_callback_branch_is_chosen_by_type(spec: Spec) -> None:
    assert_violation([callback(99, {})], spec, "type 99 matches no schema branch")
    # a modal body sent as a type 4 message is judged against the message branch
    assert_violation([callback(4, {"flags": "x"})], spec, "$.data.flags")


def modal(title: str = "Check in", components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    text_input = {"type": 4, "custom_id": "mood", "style": 1, "label": "Mood"}
    return {"custom_id": "checkin", "title": title, "components": components or [row(text_input)]}


def test_modal_46_char_title_fails(spec: Spec) -> None:
    assert_ok([callback(9, modal("x" * 45))], spec)
    for s in (spec, None):
        assert_violation([callback(9, modal("x" * 46))], s, "$.data.title", "46 chars > 45")


def test_modal_component_limits() -> None:
    ti = {"type": 4, "custom_id": "a", "style": 1}
    cases = [
        ([row({**ti, "label": "l" * 46})], "label: 46 chars > 45"),
        ([row({**ti, "label": "l", "placeholder": "p" * 101})], "placeholder: 101"),
        ([row({**ti, "label": "l", "max_length": 4001})], "max_length: 4001 > 4000"),
        ([row({**ti, "label": "l", "value": "v" * 4001})], "value: 4001 chars"),
        ([{"type": 18, "label": "l" * 46, "component": {**ti, "label": None}}], "$.data.components[0].label"),
        ([{"type": 18, "label": "l", "component": {**ti, "max_length": 4001}}], "component.max_length"),
        ([row({**ti, "label": str(i), "custom_id": str(i)}) for i in range(6)], "6 components not in 1-5"),
        ([], "0 components not in 1-5"),
    ]
    for components, needle in cases:
        body = modal()
        body["components"] = components
        assert_violation([callback(9, body)], None, needle)
    assert_violation([callback(9, {**modal(), "custom_id": "x" * 101})], None, "$.data.custom_id")


def test_autocomplete_limits(spec: Spec) -> None:
    good = [{"name": f"n{i}", "value": f"v{i}"} for i in range(25)]
    assert_ok([callback(8, {"choices": good})], spec)
    assert_violation([callback(8, {"choices": [*good, {"name": "x", "value": "y"}]})], None, "26 autocomplete")
    assert_violation([callback(8, {"choices": [{"name": "n" * 101, "value": "v"}]})], None, "choices[0].name")
    assert_violation([callback(8, {"choices": [{"name": "n", "value": "v" * 101}]})], None, "choices[0].value")


# -- application commands --------------------------------------------------------------------------


def test_valid_command_overwrite_passes(spec: Spec) -> None:
    body = [
        slash(
            "setup",
            "Configure Kinship",
            name_localizations={"de": "einrichten"},
            description_localizations={"de": "Kinship einrichten"},
            options=[{"type": 1, "name": "show", "description": "Show the configuration"}],
        ),
        slash("grüße", "Unicode letters are fine"),
        {"type": 2, "name": "Thank Member"},
        {"type": 3, "name": "Report message", "description": ""},
    ]
    assert_ok([put_commands(body)], spec)
    assert_ok([Rec("PUT", "/applications/1/guilds/2/commands", body)], spec)


def test_command_overwrite_uppercase_name_fails() -> None:
    assert_violation([put_commands([slash("Ping")])], None, "$[0].name", "must be lowercase")
    assert_violation([put_commands([slash("ping me")])], None, "not a valid slash command/option name")


def test_command_overwrite_101_char_description_fails() -> None:
    assert_violation([put_commands([slash(description="d" * 101)])], None, "$[0].description", "length 101")
    assert_violation([put_commands([slash(description="")])], None, "$[0].description", "length 0")


def test_command_german_localisation_over_32_chars_fails() -> None:
    long_name = "einrichtungsassistentfuerdieganzegilde"  # 38 chars
    body = [slash("setup", name_localizations={"de": long_name})]
    assert_violation([put_commands(body)], None, "$[0].name_localizations.de")
    body = [slash("setup", description_localizations={"de": "d" * 101})]
    assert_violation([put_commands(body)], None, "$[0].description_localizations.de")


def test_command_option_limits() -> None:
    opts = [{"type": 3, "name": f"o{i}", "description": "d"} for i in range(26)]
    assert_violation([put_commands([slash(options=opts)])], None, "26 options > 25")
    choices = [{"name": f"c{i}", "value": f"v{i}"} for i in range(26)]
    option = {"type": 3, "name": "pick", "description": "d", "choices": choices}
    assert_violation([put_commands([slash(options=[option])])], None, "26 choices > 25")
    option = {"type": 3, "name": "Pick", "description": "d"}
    assert_violation([put_commands([slash(options=[option])])], None, "$[0].options[0].name")
    sub = {"type": 1, "name": "show", "description": "d" * 101}
    assert_violation([put_commands([slash(options=[sub])])], None, "$[0].options[0].description")
    option = {"type": 3, "name": "text", "description": "d", "max_length": 6001}
    assert_violation([put_commands([slash(options=[option])])], None, "max_length")


def test_context_menu_and_count_limits() -> None:
    assert_violation([put_commands([{"type": 2, "name": "x" * 33}])], None, "$[0].name")
    assert_violation([put_commands([{"type": 3, "name": "Report", "description": "d"}])], None, "no description")
    many_users = [{"type": 2, "name": f"User {i}"} for i in range(16)]
    assert_violation([put_commands(many_users)], None, "16 user commands > 15")
    many_slash = [slash(f"c{i}") for i in range(101)]
    assert_violation([put_commands(many_slash)], None, "101 slash commands > 100")


# -- mention safety --------------------------------------------------------------------------------


def test_missing_allowed_mentions_with_content_fails(spec: Spec) -> None:
    for rec in (
        send({"content": "hi"}),
        send({"content": "edited"}, "/channels/1/messages/2", "PATCH"),
        callback(4, {"content": "hi"}),
        callback(7, {"content": "hi"}),
        Rec("POST", "/webhooks/1/tok", {"content": "followup"}),
        Rec("PATCH", "/webhooks/1/tok/messages/@original", {"content": "edit"}),
    ):
        assert_violation([rec], spec, "allowed_mentions: missing while content is present")


def test_parse_everyone_or_roles_fails() -> None:
    for parse in (["everyone"], ["roles"], ["users", "everyone"]):
        body = {"content": "hi", "allowed_mentions": {"parse": parse}}
        assert_violation([send(body)], None, "allowed_mentions.parse includes")
    body = {"embeds": [{"title": "t"}], "allowed_mentions": {"parse": ["everyone"]}}
    assert_violation([send(body)], None, "mass-ping")


def test_explicit_mentions_and_mentionless_bodies_pass(spec: Spec) -> None:
    explicit = {"parse": [], "users": ["42"], "roles": ["7"], "replied_user": False}
    assert_ok([send({"content": "<@42> <@&7>", "allowed_mentions": explicit})], spec)
    assert_ok([send({"content": "hi", "allowed_mentions": {"parse": ["users"]}})], spec)
    assert_ok([send({"embeds": [{"title": "no pings from embeds"}]})], spec)
    assert_ok([send({"content": None, "embeds": []}, "/channels/1/messages/2", "PATCH")], spec)
    assert_ok([callback(5, {"flags": 64}), callback(6)], spec)


def test_format_violations() -> None:
    assert "no Discord API contract violations" in format_violations([])
    text = format_violations(["a", "b"])
    assert text.splitlines() == ["2 Discord API contract violation(s):", "  1. a", "  2. b"]


# -- discord.py 2.7 real output shapes must pass -------------------------------------------------------


def _embed() -> discord.Embed:
    embed = discord.Embed(title="Kinship", description="hello", colour=0x5865F2, timestamp=discord.utils.utcnow())
    embed.add_field(name="a", value="b").add_field(name="c", value="d", inline=False)
    embed.set_footer(text="footer", icon_url="https://example.com/f.png")
    embed.set_author(name="author", url="https://example.com", icon_url="https://example.com/a.png")
    embed.set_thumbnail(url="https://example.com/t.png").set_image(url="https://example.com/i.png")
    return embed


def _view() -> ui.View:
    view = ui.View()
    view.add_item(ui.Button(label="Join", custom_id="join", emoji="🤝"))
    view.add_item(ui.Button(label="Docs", url="https://example.com"))
    view.add_item(
        ui.Select(custom_id="pick", placeholder="Pick", options=[discord.SelectOption(label="a", description="d")])
    )
    view.add_item(ui.UserSelect(custom_id="who"))
    view.add_item(ui.ChannelSelect(custom_id="where", channel_types=[discord.ChannelType.text]))
    return view


class _CheckInModal(ui.Modal, title="Check in"):
    name = ui.TextInput(label="Name", placeholder="Your name", max_length=100)
    mood = ui.Label(
        text="Mood",
        description="How are you?",
        component=ui.TextInput(style=discord.TextStyle.long, max_length=4000, default="fine"),
    )
    pick = ui.Label(text="Topic", component=ui.Select(options=[discord.SelectOption(label="a")]))


class _Layout(ui.LayoutView):
    box = ui.Container(
        ui.TextDisplay("hello"),
        ui.Section(ui.TextDisplay("section"), accessory=ui.Button(label="b", custom_id="b")),
        ui.Separator(),
        ui.ActionRow(ui.Button(label="x", custom_id="x")),
        accent_colour=0x123456,
    )


def _commands() -> list[dict[str, Any]]:
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))

    @tree.command(name="ping", description="Ping")
    @app_commands.describe(who="Who")
    @app_commands.choices(kind=[app_commands.Choice(name="A", value="a")])
    async def ping(
        interaction: discord.Interaction,
        who: discord.Member,
        kind: str,
        n: app_commands.Range[int, 1, 5] = 1,
        text: app_commands.Range[str, 1, 50] = "x",
    ) -> None: ...

    group = app_commands.Group(
        name="setup",
        description="Setup",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @group.command(name="show", description="Show")
    async def show(interaction: discord.Interaction) -> None: ...

    tree.add_command(group)

    @tree.context_menu(name="Thank Member")
    async def thank(interaction: discord.Interaction, member: discord.Member) -> None: ...

    @tree.context_menu(name="Report")
    async def report(interaction: discord.Interaction, message: discord.Message) -> None: ...

    return [c.to_dict(tree) for c in tree.get_commands()]


def test_discord_py_message_shapes_pass(spec: Spec) -> None:
    none = discord.AllowedMentions.none()
    ref = discord.MessageReference(message_id=123, channel_id=456, guild_id=789, fail_if_not_exists=False)
    records = [
        send(
            handle_message_parameters(
                content="hi",
                embed=_embed(),
                view=_view(),
                allowed_mentions=none,
                message_reference=ref.to_message_reference_dict(),
                nonce=12345,
                mention_author=False,
            ).payload
        ),
        send(
            handle_message_parameters(
                content="ping",
                allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(5)]),
                stickers=[1],
                flags=discord.MessageFlags(suppress_embeds=True),
            ).payload
        ),
        send(
            handle_message_parameters(content="e", embeds=[], view=None, allowed_mentions=none, attachments=[]).payload,
            "/channels/1/messages/2",
            "PATCH",
        ),
        send(handle_message_parameters(view=_Layout(), allowed_mentions=none).payload),
        send(
            handle_message_parameters(
                content="poll",
                allowed_mentions=none,
                poll=discord.Poll(question="q?", duration=dt.timedelta(hours=1)).add_answer(text="a"),
            ).payload
        ),
    ]
    # uploads: simcord records the decoded payload_json part
    upload = handle_message_parameters(
        content="file", file=discord.File(__file__, description="d", spoiler=True), allowed_mentions=none
    )
    records.append(send(json.loads(upload.multipart[0]["value"])))
    forum = handle_message_parameters(
        content="post", allowed_mentions=none, channel_payload={"name": "post", "auto_archive_duration": 1440}
    )
    records.append(Rec("POST", "/channels/1/threads", forum.payload))
    followup = handle_message_parameters(
        content="fu",
        embed=_embed(),
        view=_view(),
        allowed_mentions=none,
        flags=discord.MessageFlags(ephemeral=True),
    )
    records.append(Rec("POST", "/webhooks/1/tok", followup.payload, {"wait": "true"}))
    records.append(Rec("PATCH", "/webhooks/1/tok/messages/@original", followup.payload))
    records.append(Rec("PATCH", "/api/v10/webhooks/1/tok/messages/99", followup.payload))
    assert_ok(records, spec)


def test_discord_py_interaction_shapes_pass(spec: Spec) -> None:
    none = discord.AllowedMentions.none()
    records = [
        Rec(
            "POST",
            "/interactions/1/tok/callback",
            interaction_message_response_params(
                type=4,
                content="hi",
                embed=_embed(),
                view=_view(),
                flags=discord.MessageFlags(ephemeral=True),
                allowed_mentions=none,
            ).payload,
            {"with_response": True},
        ),
        Rec(
            "POST",
            "/interactions/1/tok/callback",
            interaction_message_response_params(
                type=7, content="upd", embeds=[], view=None, allowed_mentions=none, attachments=[]
            ).payload,
        ),
        Rec("POST", "/interactions/1/tok/callback", interaction_response_params(5, {"flags": 64}).payload),
        Rec("POST", "/interactions/1/tok/callback", interaction_response_params(6).payload),
        Rec(
            "POST",
            "/interactions/1/tok/callback",
            interaction_response_params(9, _CheckInModal().to_dict()).payload,
        ),
        Rec(
            "POST",
            "/interactions/1/tok/callback",
            interaction_response_params(8, {"choices": [{"name": "a", "value": "a"}]}).payload,
        ),
    ]
    assert_ok(records, spec)


def test_discord_py_command_and_misc_shapes_pass(spec: Spec) -> None:
    records = [
        put_commands(_commands()),
        Rec("PUT", "/applications/1/guilds/2/commands", []),
        Rec("POST", "/users/@me/channels", {"recipient_id": 42}),
        Rec("POST", "/guilds/1/roles", {"name": "r", "permissions": "0", "color": 5, "hoist": False}),
        Rec("PUT", "/channels/1/permissions/2", {"allow": "1024", "deny": "0", "type": 0}),
        Rec("POST", "/channels/1/messages/bulk-delete", {"messages": [1, 2, 3]}),
    ]
    assert_ok(records, spec)
