"""Contract checks for the REST requests a discord.py bot sent during a test.

Feed :func:`check_requests` the request log of a test run (simcord's ``HttpLogEntry`` records or
anything with ``method``, ``path``, ``params`` and ``json`` attributes) and it returns readable
violations:

1. **Schema**: each JSON body is validated against the matching operation's request body schema in
   Discord's OpenAPI 3.1 description (``../shared/discord-api-spec/openapi.json`` next to the repo
   root, or ``$KINSHIP_DISCORD_SPEC``). Unknown routes are violations too.
2. **Hard limits** from ``DISCORD-LIMITS.md`` that the spec is looser on (content length, embed
   text, component counts, modal and autocomplete limits, application command names, ...).
3. **Mention safety**: message-creating/editing requests must carry ``allowed_mentions`` that never
   parses ``everyone`` or ``roles``.

Simcord records multipart requests (uploads) with the decoded ``payload_json`` part as ``json``, so
message sends with files are checked like any other JSON body.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

try:  # pragma: no cover - depends on the environment
    import regex as _regex
except ImportError:  # pragma: no cover - depends on the environment
    _regex = None

__all__ = [
    "SPEC_EXCEPTIONS",
    "HttpRecord",
    "Spec",
    "check_requests",
    "format_violations",
    "load_spec",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "discord-api-spec" / "openapi.json"
SPEC_ENV_VAR = "KINSHIP_DISCORD_SPEC"
_SPEC_URI = "urn:kinship:discord-openapi"

# Places where the OpenAPI description rejects what discord.py 2.7.1 legitimately sends (and Discord
# accepts). They are applied to a private copy of the spec used for validation only; keep them narrow.
SPEC_EXCEPTIONS: tuple[str, ...] = (
    "components/schemas/SnowflakeType also accepts non-negative JSON integers: the spec types snowflakes "
    "as digit strings, but Discord accepts integers and discord.py sends ints in message_reference ids, "
    "allowed_mentions users/roles, sticker_ids, attachments[].id (upload index), DM recipient_id, ...",
    "Object properties named permissions/allow/deny that the spec types as integer also accept digit "
    "strings: Discord serialises permission bit sets as strings and discord.py sends them that way "
    "(role create/edit, channel permission overwrites).",
    "components/schemas/ChannelTypes also accepts 16 (GUILD_MEDIA): Discord's documentation lists it and "
    "discord.py adds it to channel_types for options annotated as discord.ForumChannel; the spec omits it.",
)
_SNOWFLAKE_SCHEMA: dict[str, Any] = {
    "type": ["string", "integer"],
    "pattern": "^(0|[1-9][0-9]*)$",
    "minimum": 0,
}
_BITSET_PROPERTIES = frozenset({"permissions", "allow", "deny"})
_BITSET_STRING: dict[str, Any] = {"type": "string", "pattern": "^[0-9]+$"}


def _patch_bitsets(node: Any) -> Any:
    """Return ``node`` with integer-typed permission bit set properties also accepting digit strings."""
    if isinstance(node, list):
        return [_patch_bitsets(item) for item in node]
    if not isinstance(node, dict):
        return node
    patched = {key: _patch_bitsets(value) for key, value in node.items()}
    props = patched.get("properties")
    if isinstance(props, dict):
        for name in _BITSET_PROPERTIES & props.keys():
            prop = props[name]
            types = prop.get("type") if isinstance(prop, dict) else None
            if types == "integer" or (isinstance(types, list) and "integer" in types):
                props[name] = {"anyOf": [prop, _BITSET_STRING]}
    return patched


def _validation_document(document: dict[str, Any]) -> dict[str, Any]:
    """The spec with :data:`SPEC_EXCEPTIONS` applied (a copy; ``document`` is not modified)."""
    patched = _patch_bitsets(document)
    patched["components"]["schemas"]["SnowflakeType"] = _SNOWFLAKE_SCHEMA
    channel_types = patched["components"]["schemas"].get("ChannelTypes")
    if channel_types and "oneOf" in channel_types:
        channel_types["oneOf"] = [*channel_types["oneOf"], {"title": "GUILD_MEDIA", "const": 16}]
    return patched


class HttpRecord(Protocol):
    """What :func:`check_requests` needs from a request record (simcord's ``HttpLogEntry``)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def json(self) -> Any | None: ...


# --------------------------------------------------------------------------------------------------
# Route matching
# --------------------------------------------------------------------------------------------------

_API_PREFIX = re.compile(r"^/api(?:/v\d+)?(?=/)")


def _segments(path: str) -> list[str]:
    """Split a request path into segments, dropping a query string and an ``/api/vN`` prefix."""
    path = path.split("?", 1)[0]
    path = _API_PREFIX.sub("", path)
    return [s for s in path.strip("/").split("/") if s != ""]


def _match_template(templates: Iterable[str], path: str) -> str | None:
    """Return the template matching ``path``; literal segments beat ``{param}`` segments."""
    segments = _segments(path)
    best: tuple[int, str] | None = None
    for template in templates:
        parts = template.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        literals = 0
        for tpl, seg in zip(parts, segments, strict=True):
            if tpl.startswith("{") and tpl.endswith("}"):
                continue
            if tpl != seg:
                break
            literals += 1
        else:
            if best is None or literals > best[0]:
                best = (literals, template)
    return best[1] if best else None


# Routes whose bodies get the hard-limit and mention checks. Kept independent of the spec so the
# checks run (and are testable) with any spec version.
_MESSAGE_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/channels/{channel_id}/messages"),
        ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
        ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
        ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
        ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
    }
)
_THREAD_ROUTE = ("POST", "/channels/{channel_id}/threads")  # forum posts carry a nested ``message``
_CALLBACK_ROUTE = ("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
_COMMAND_BULK_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("PUT", "/applications/{application_id}/commands"),
        ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
    }
)
_COMMAND_SINGLE_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/applications/{application_id}/commands"),
        ("POST", "/applications/{application_id}/guilds/{guild_id}/commands"),
        ("PATCH", "/applications/{application_id}/commands/{command_id}"),
        ("PATCH", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}"),
    }
)
_KNOWN_TEMPLATES: tuple[str, ...] = tuple(
    sorted(
        {t for _, t in _MESSAGE_ROUTES | _COMMAND_BULK_ROUTES | _COMMAND_SINGLE_ROUTES}
        | {_THREAD_ROUTE[1], _CALLBACK_ROUTE[1]}
    )
)


# --------------------------------------------------------------------------------------------------
# Spec loading and schema validation
# --------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Spec:
    """A loaded OpenAPI description with lazily compiled, cached request body validators."""

    document: dict[str, Any]
    path: Path
    _registry: Registry = field(init=False, repr=False)
    _templates: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    _validators: dict[str, Draft202012Validator] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        resource = Resource(contents=_validation_document(self.document), specification=DRAFT202012)
        self._registry = Registry().with_resource(_SPEC_URI, resource)
        by_method: dict[str, list[str]] = {}
        for template, item in self.document.get("paths", {}).items():
            for method in item:
                if method in {"get", "put", "post", "patch", "delete", "head", "options"}:
                    by_method.setdefault(method.upper(), []).append(template)
        self._templates = {m: tuple(ts) for m, ts in by_method.items()}

    def match(self, method: str, path: str) -> str | None:
        """Return the spec path template for ``method path`` (literal segments preferred)."""
        return _match_template(self._templates.get(method.upper(), ()), path)

    def operation(self, method: str, template: str) -> dict[str, Any]:
        """Return the operation object of ``method`` on ``template``."""
        return self.document["paths"][template][method.lower()]

    def resolve(self, schema: Any) -> Any:
        """Follow a local ``$ref`` chain at the top of ``schema``."""
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                break
            node: Any = self.document
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = node
            seen += 1
        return schema

    def validator(self, pointer: str) -> Draft202012Validator:
        """Return a (cached) validator for the schema at JSON pointer ``pointer`` in the document."""
        cached = self._validators.get(pointer)
        if cached is None:
            ref = f"{_SPEC_URI}#{quote(pointer, safe='/~@')}"
            cached = Draft202012Validator({"$ref": ref}, registry=self._registry)
            self._validators[pointer] = cached
        return cached


def _resolve_spec_path(path: Path | None) -> Path:
    if path is not None:
        return Path(path)
    env = os.environ.get(SPEC_ENV_VAR)
    if env:
        return Path(env)
    return DEFAULT_SPEC_PATH


@functools.lru_cache(maxsize=4)
def _load_spec_cached(resolved: str, mtime_ns: int) -> Spec:
    del mtime_ns  # part of the cache key only: a replaced file is reloaded
    with open(resolved, encoding="utf-8") as fh:
        return Spec(json.load(fh), Path(resolved))


def load_spec(path: Path | None = None) -> Spec | None:
    """Load Discord's OpenAPI description, or return ``None`` when the file is absent.

    The file is looked up at ``path``, else ``$KINSHIP_DISCORD_SPEC``, else
    ``<repo root>/../shared/discord-api-spec/openapi.json``. Loaded specs are cached per file;
    callers should skip (with a visible reason) when ``None`` is returned.
    """
    resolved = _resolve_spec_path(path).resolve()
    try:
        stat = resolved.stat()
    except OSError:
        return None
    return _load_spec_cached(str(resolved), stat.st_mtime_ns)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _body_pointer(spec: Spec, method: str, template: str) -> tuple[str | None, str | None]:
    """Return (JSON pointer of the request body schema, problem) for an operation."""
    op = spec.operation(method, template)
    body = op.get("requestBody")
    if body is None:
        return None, "operation takes no request body"
    body = spec.resolve(body)
    content = body.get("content", {})
    base = f"/paths/{_escape(template)}/{method.lower()}/requestBody/content"
    for media in ("application/json", "multipart/form-data"):
        if media in content and "schema" in content[media]:
            return f"{base}/{_escape(media)}/schema", None
    return None, f"no JSON request body schema (media types: {sorted(content)})"


def _type_branches(spec: Spec, pointer: str, body: Any) -> tuple[list[str], str | None]:
    """For a union schema keyed on ``type`` (interaction callbacks), pick the matching branches.

    Returns (pointers to validate against, problem). Without a ``type`` discriminator the union
    itself is returned unchanged.
    """
    node: Any = spec.document
    for part in pointer[1:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    schema = spec.resolve(node)
    if not isinstance(body, dict) or "type" not in body or not isinstance(schema, dict):
        return [pointer], None
    for keyword in ("oneOf", "anyOf"):
        branches = schema.get(keyword)
        if not isinstance(branches, list):
            continue
        known: list[Any] = []
        matching: list[str] = []
        for index, branch in enumerate(branches):
            resolved = spec.resolve(branch)
            type_schema = resolved.get("properties", {}).get("type") if isinstance(resolved, dict) else None
            if not isinstance(type_schema, dict):
                return [pointer], None  # not a type-discriminated union
            allowed = list(type_schema.get("enum", []))
            if "const" in type_schema:
                allowed.append(type_schema["const"])
            if not allowed:
                return [pointer], None
            known.extend(allowed)
            if body["type"] in allowed:
                if isinstance(branch, dict) and isinstance(branch.get("$ref"), str):
                    matching.append(branch["$ref"][1:])
                else:
                    matching.append(f"{pointer}/{keyword}/{index}")
        if not matching:
            return [], f"type {body['type']!r} matches no schema branch (spec allows {sorted(set(known))})"
        return matching, None
    return [pointer], None


def _error_path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_VERDICTS: dict[tuple[int, str, str, str], list[str]] = {}
_VERDICTS_MAX = 50_000


def _schema_violations(spec: Spec, method: str, path: str, body: Any) -> list[str]:
    """The body's schema violations, remembered per identical request: every test's bot syncs the
    same command tree at start-up, and validating that one body costs ~1 s."""
    try:
        key = (id(spec), method, path, json.dumps(body, sort_keys=True))
    except (TypeError, ValueError):
        return _validate_schema(spec, method, path, body)
    verdict = _VERDICTS.get(key)
    if verdict is None:
        if len(_VERDICTS) >= _VERDICTS_MAX:
            _VERDICTS.clear()
        verdict = _VERDICTS[key] = _validate_schema(spec, method, path, body)
    return list(verdict)


def _validate_schema(spec: Spec, method: str, path: str, body: Any) -> list[str]:
    where = f"{method} {path}"
    template = spec.match(method, path)
    if template is None:
        return [f"{where}: no such operation in spec"]
    pointer, problem = _body_pointer(spec, method, template)
    if pointer is None:
        if body in ({}, [], None):
            return []
        return [f"{where}: {problem}"]
    pointers, problem = _type_branches(spec, pointer, body)
    if problem:
        return [f"{where}: {problem}"]
    out: list[str] = []
    for ptr in pointers:
        # Multipart-only operations (stickers, ...) require the binary file part, which simcord does not
        # record as JSON; only those ``required`` errors are dropped.
        errors = [e for e in spec.validator(ptr).iter_errors(body) if not _binary_required(spec, e)]
        if not errors:
            return []
        branch_out: list[str] = []
        for error in errors:
            leaf = best_match([error]) or error
            msg = f"{where}: schema ({template}) at {_error_path(leaf)}: {_short(leaf.message)}"
            if msg not in branch_out:
                branch_out.append(msg)
        out = out or branch_out
    return out


def _binary_required(spec: Spec, error: ValidationError) -> bool:
    """True for a ``required`` error about a binary (file) multipart part."""
    if error.validator != "required" or not isinstance(error.schema, dict):
        return False
    props = error.schema.get("properties", {})
    missing = re.findall(r"'([^']+)' is a required property", error.message)
    return bool(missing) and all(
        isinstance(spec.resolve(props.get(name)), dict)
        and spec.resolve(props.get(name)).get("contentEncoding") == "binary"
        for name in missing
    )


# --------------------------------------------------------------------------------------------------
# Hard limits
# --------------------------------------------------------------------------------------------------

IS_COMPONENTS_V2 = 1 << 15
_BUTTON = 2
_SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
_TEXT_INPUT = 4
_ACTION_ROW = 1
_LABEL = 18

_SLASH, _USER, _MESSAGE = 1, 2, 3
_SUBCOMMAND_TYPES = frozenset({1, 2})
_MAX_COMMANDS = {_SLASH: 100, _USER: 15, _MESSAGE: 15}

_NAME_RE = _regex.compile(r"^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$") if _regex is not None else None


def _is_slash_name(name: str) -> bool:
    """Discord's slash command / option name rule (``regex`` module, else a unicodedata approximation)."""
    if _NAME_RE is not None:
        return bool(_NAME_RE.match(name))
    if not 1 <= len(name) <= 32:
        return False
    for ch in name:
        if ch in "-_'" or unicodedata.category(ch)[0] in "LN":
            continue
        # \p{sc=Deva} / \p{sc=Thai} also admit the scripts' combining marks and signs.
        if 0x0900 <= ord(ch) <= 0x097F or 0xA8E0 <= ord(ch) <= 0xA8FF or 0x0E00 <= ord(ch) <= 0x0E7F:
            continue
        return False
    return True


class _Checker:
    """Collects limit violations for one request."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.out: list[str] = []

    def add(self, at: str, message: str) -> None:
        self.out.append(f"{self.where}: {at}: {message}")

    def max_len(self, at: str, value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(at, f"{len(value)} chars > {limit}")

    def len_range(self, at: str, value: Any, low: int, high: int) -> None:
        if isinstance(value, str) and not low <= len(value) <= high:
            self.add(at, f"length {len(value)} not in {low}-{high}")

    def max_items(self, at: str, value: Any, limit: int, what: str) -> None:
        if isinstance(value, list) and len(value) > limit:
            self.add(at, f"{len(value)} {what} > {limit}")

    # -- messages ---------------------------------------------------------------------------------

    def message(self, body: Mapping[str, Any], at: str) -> None:
        self.max_len(f"{at}.content", body.get("content"), 2000)
        self.max_len(f"{at}.nonce", body.get("nonce"), 25)
        embeds = body.get("embeds")
        if isinstance(embeds, list):
            self.max_items(f"{at}.embeds", embeds, 10, "embeds")
            total = 0
            for i, embed in enumerate(embeds):
                if isinstance(embed, dict):
                    total += self.embed(embed, f"{at}.embeds[{i}]")
            if total > 6000:
                self.add(f"{at}.embeds", f"{total} chars of embed text > 6000 per message")
        components = body.get("components")
        if isinstance(components, list):
            flags = body.get("flags")
            v2 = isinstance(flags, int) and bool(flags & IS_COMPONENTS_V2)
            self.message_components(components, f"{at}.components", v2=v2)

    def embed(self, embed: Mapping[str, Any], at: str) -> int:
        """Check one embed and return its text length (for the 6000 per message budget)."""
        texts: list[str] = []

        def take(key_at: str, value: Any, limit: int) -> None:
            if isinstance(value, str):
                self.max_len(key_at, value, limit)
                texts.append(value)

        take(f"{at}.title", embed.get("title"), 256)
        take(f"{at}.description", embed.get("description"), 4096)
        fields = embed.get("fields")
        if isinstance(fields, list):
            self.max_items(f"{at}.fields", fields, 25, "fields")
            for i, fld in enumerate(fields):
                if isinstance(fld, dict):
                    take(f"{at}.fields[{i}].name", fld.get("name"), 256)
                    take(f"{at}.fields[{i}].value", fld.get("value"), 1024)
        footer = embed.get("footer")
        if isinstance(footer, dict):
            take(f"{at}.footer.text", footer.get("text"), 2048)
        author = embed.get("author")
        if isinstance(author, dict):
            take(f"{at}.author.name", author.get("name"), 256)
        return sum(len(t) for t in texts)

    def message_components(self, components: list[Any], at: str, *, v2: bool) -> None:
        if not v2:
            self.max_items(at, components, 5, "top-level components (action rows)")
        total = sum(1 for _ in _walk_components(components))
        if total > 40:
            self.add(at, f"{total} components in total > 40")
        for comp_at, comp in _walk_components(components, at):
            self.component(comp, comp_at)

    def component(self, comp: Mapping[str, Any], at: str) -> None:
        ctype = comp.get("type")
        if "custom_id" in comp:
            self.len_range(f"{at}.custom_id", comp.get("custom_id"), 1, 100)
        if ctype == _ACTION_ROW:
            children = comp.get("components")
            if isinstance(children, list):
                buttons = [c for c in children if isinstance(c, dict) and c.get("type") == _BUTTON]
                self.max_items(f"{at}.components", buttons, 5, "buttons in one row")
        elif ctype == _BUTTON:
            self.max_len(f"{at}.label", comp.get("label"), 80)
        elif ctype in _SELECT_TYPES:
            self.max_items(f"{at}.options", comp.get("options"), 25, "select options")
            self.max_len(f"{at}.placeholder", comp.get("placeholder"), 150)
        elif ctype == _TEXT_INPUT:
            self.max_len(f"{at}.label", comp.get("label"), 45)
            self.max_len(f"{at}.placeholder", comp.get("placeholder"), 100)
            self.max_len(f"{at}.value", comp.get("value"), 4000)
            max_length = comp.get("max_length")
            if isinstance(max_length, int) and max_length > 4000:
                self.add(f"{at}.max_length", f"{max_length} > 4000")
        elif ctype == _LABEL:
            self.max_len(f"{at}.label", comp.get("label"), 45)
            self.max_len(f"{at}.description", comp.get("description"), 100)

    # -- interaction callbacks --------------------------------------------------------------------

    def modal(self, data: Mapping[str, Any], at: str) -> None:
        self.max_len(f"{at}.title", data.get("title"), 45)
        self.len_range(f"{at}.custom_id", data.get("custom_id"), 1, 100)
        components = data.get("components")
        if isinstance(components, list) and not 1 <= len(components) <= 5:
            self.add(f"{at}.components", f"{len(components)} components not in 1-5")
        if isinstance(components, list):
            for comp_at, comp in _walk_components(components, f"{at}.components"):
                self.component(comp, comp_at)

    def autocomplete(self, data: Mapping[str, Any], at: str) -> None:
        choices = data.get("choices")
        self.max_items(f"{at}.choices", choices, 25, "autocomplete choices")
        if isinstance(choices, list):
            self.choices(choices, f"{at}.choices", limit_count=False)

    def choices(self, choices: list[Any], at: str, *, limit_count: bool = True) -> None:
        if limit_count:
            self.max_items(at, choices, 25, "choices")
        for i, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            self.len_range(f"{at}[{i}].name", choice.get("name"), 1, 100)
            self.localised(f"{at}[{i}].name_localizations", choice.get("name_localizations"), 1, 100)
            self.max_len(f"{at}[{i}].value", choice.get("value"), 100)

    def localised(self, at: str, mapping: Any, low: int, high: int, *, slash_name: bool = False) -> None:
        if not isinstance(mapping, dict):
            return
        for locale, value in mapping.items():
            if slash_name:
                self.slash_name(f"{at}.{locale}", value)
            else:
                self.len_range(f"{at}.{locale}", value, low, high)

    # -- application commands ---------------------------------------------------------------------

    def slash_name(self, at: str, name: Any) -> None:
        if not isinstance(name, str):
            return
        if not _is_slash_name(name):
            self.add(at, f"{name!r} is not a valid slash command/option name (1-32 chars, no spaces)")
        elif name != name.lower():
            self.add(at, f"{name!r} must be lowercase")

    def commands(self, commands: list[Any], at: str) -> None:
        counts: dict[int, int] = {}
        for i, cmd in enumerate(commands):
            if isinstance(cmd, dict):
                ctype = cmd.get("type", _SLASH)
                counts[ctype] = counts.get(ctype, 0) + 1
                self.command(cmd, f"{at}[{i}]")
        names = {_SLASH: "slash", _USER: "user", _MESSAGE: "message"}
        for ctype, limit in _MAX_COMMANDS.items():
            if counts.get(ctype, 0) > limit:
                self.add(at, f"{counts[ctype]} {names[ctype]} commands > {limit}")

    def command(self, cmd: Mapping[str, Any], at: str) -> None:
        ctype = cmd.get("type", _SLASH)
        if ctype == _SLASH:
            self.slash_name(f"{at}.name", cmd.get("name"))
            self.localised(f"{at}.name_localizations", cmd.get("name_localizations"), 1, 32, slash_name=True)
            self.description(cmd, at)
            self.options(cmd.get("options"), f"{at}.options")
        elif ctype in (_USER, _MESSAGE):
            self.len_range(f"{at}.name", cmd.get("name"), 1, 32)
            self.localised(f"{at}.name_localizations", cmd.get("name_localizations"), 1, 32)
            if cmd.get("description"):
                self.add(f"{at}.description", "context-menu commands take no description")
            if cmd.get("description_localizations"):
                self.add(f"{at}.description_localizations", "context-menu commands take no description")

    def description(self, obj: Mapping[str, Any], at: str) -> None:
        description = obj.get("description")
        if description is None:
            self.add(f"{at}.description", "missing (slash commands and options need 1-100 chars)")
        self.len_range(f"{at}.description", description, 1, 100)
        self.localised(f"{at}.description_localizations", obj.get("description_localizations"), 1, 100)

    def options(self, options: Any, at: str) -> None:
        if not isinstance(options, list):
            return
        self.max_items(at, options, 25, "options")
        for i, opt in enumerate(options):
            if not isinstance(opt, dict):
                continue
            opt_at = f"{at}[{i}]"
            self.slash_name(f"{opt_at}.name", opt.get("name"))
            self.localised(f"{opt_at}.name_localizations", opt.get("name_localizations"), 1, 32, slash_name=True)
            self.description(opt, opt_at)
            if isinstance(opt.get("choices"), list):
                self.choices(opt["choices"], f"{opt_at}.choices")
            min_length, max_length = opt.get("min_length"), opt.get("max_length")
            if isinstance(min_length, int) and not 0 <= min_length <= 6000:
                self.add(f"{opt_at}.min_length", f"{min_length} not in 0-6000")
            if isinstance(max_length, int) and not 1 <= max_length <= 6000:
                self.add(f"{opt_at}.max_length", f"{max_length} not in 1-6000")
            if opt.get("type") in _SUBCOMMAND_TYPES:
                self.options(opt.get("options"), f"{opt_at}.options")


def _walk_components(components: Sequence[Any], at: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (path, component) for every component, depth first (rows, sections, labels, ...)."""
    for i, comp in enumerate(components):
        yield from _walk_component(comp, f"{at}[{i}]")


def _walk_component(comp: Any, at: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(comp, dict):
        return
    yield at, comp
    children = comp.get("components")
    if isinstance(children, list):
        yield from _walk_components(children, f"{at}.components")
    for key in ("component", "accessory"):  # label (type 18) child, section accessory
        yield from _walk_component(comp.get(key), f"{at}.{key}")


# --------------------------------------------------------------------------------------------------
# Mention safety
# --------------------------------------------------------------------------------------------------


def _mention_violations(where: str, message: Mapping[str, Any], at: str) -> list[str]:
    """``allowed_mentions`` must be present with content and must never parse everyone/roles.

    Embeds never ping, so an embed-only message may omit ``allowed_mentions``; when it is present
    its ``parse`` list is still checked. Explicit ``users``/``roles`` lists are deliberate pings.
    """
    content = message.get("content")
    embeds = message.get("embeds")
    has_content = isinstance(content, str) and content != ""
    has_embeds = isinstance(embeds, list) and len(embeds) > 0
    if not (has_content or has_embeds):
        return []
    allowed = message.get("allowed_mentions")
    if allowed is None:
        if has_content:
            return [f"{where}: {at}.allowed_mentions: missing while content is present (mentions would ping)"]
        return []
    if not isinstance(allowed, dict):
        return [f"{where}: {at}.allowed_mentions: not an object"]
    parse = allowed.get("parse") or []
    unsafe = sorted({p for p in parse if p in ("everyone", "roles")})
    if unsafe:
        return [f"{where}: {at}.allowed_mentions.parse includes {unsafe} (mass-ping risk)"]
    return []


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def _limit_violations(method: str, path: str, body: Any) -> list[str]:
    where = f"{method} {path}"
    template = _match_template(_KNOWN_TEMPLATES, path)
    key = (method, template or "")
    check = _Checker(where)
    out: list[str] = []
    if key in _MESSAGE_ROUTES and isinstance(body, dict):
        check.message(body, "$")
        out += _mention_violations(where, body, "$")
    elif key == _THREAD_ROUTE and isinstance(body, dict) and isinstance(body.get("message"), dict):
        check.message(body["message"], "$.message")
        out += _mention_violations(where, body["message"], "$.message")
    elif key == _CALLBACK_ROUTE and isinstance(body, dict) and isinstance(body.get("data"), dict):
        ctype, data = body.get("type"), body["data"]
        if ctype in (4, 5, 7):
            check.message(data, "$.data")
            if ctype in (4, 7):
                out += _mention_violations(where, data, "$.data")
        elif ctype == 8:
            check.autocomplete(data, "$.data")
        elif ctype == 9:
            check.modal(data, "$.data")
    elif key in _COMMAND_BULK_ROUTES and isinstance(body, list):
        check.commands(body, "$")
    elif key in _COMMAND_SINGLE_ROUTES and isinstance(body, dict):
        check.command(body, "$")
    return check.out + out


def check_requests(records: Iterable[HttpRecord], spec: Spec | None) -> list[str]:
    """Return human-readable contract violations for the recorded REST requests (empty = OK).

    Records whose ``json`` is ``None`` are skipped. With a ``spec`` each body is validated against
    the matching OpenAPI operation (unknown routes are violations); the hard-limit and mention
    safety checks run with or without a spec.
    """
    violations: list[str] = []
    for record in records:
        body = record.json
        if body is None:
            continue
        method = record.method.upper()
        if spec is not None:
            violations += _schema_violations(spec, method, record.path, body)
        violations += _limit_violations(method, record.path, body)
    return violations


def format_violations(violations: Sequence[str]) -> str:
    """Format violations as a numbered, multi-line message for assertion failures."""
    if not violations:
        return "no Discord API contract violations"
    lines = [f"{len(violations)} Discord API contract violation(s):"]
    lines += [f"  {i}. {v}" for i, v in enumerate(violations, 1)]
    return "\n".join(lines)
