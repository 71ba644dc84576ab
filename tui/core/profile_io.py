"""Reading, validating and writing profiles.

Every problem with a profile is one `ProfileError` whose text is a single line,
`PATH:LINE:COL: key.path: message` when the key can be found in the file, else
`PATH: key.path: message`. The TOML and schema machinery lives in `tui.core.files`;
its names are re-exported here for the modules that import them from this one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .files.schema import SchemaError, convert, from_table, to_table
from .files.tomlfile import (
    FileFormatError,
    KeyPath,
    atomic_write,
    dump_toml,
    format_key,
    has_carriage_return,
    parse_toml,
    place_error,
    read_text,
)
from .models import ModelError, split_ref
from .profile import Limits, McpServerDef, Profile, ProviderDef, Stage

Invalid = SchemaError  # the old name, kept for session.py and other readers

__all__ = [
    "FileFormatError",
    "Invalid",
    "KeyPath",
    "ProfileError",
    "SchemaError",
    "atomic_write",
    "check_profile",
    "convert",
    "dump_toml",
    "find_profile",
    "format_key",
    "has_carriage_return",
    "load_profile",
    "parse_profile",
    "parse_toml",
    "place_error",
    "profile_from_dict",
    "profile_from_table",
    "profile_to_dict",
    "read_text",
    "save_profile",
    "to_table",
]


class ProfileError(FileFormatError):
    """A profile that cannot be read, is not TOML, or does not fit the schema."""


# ------------------------------------------------------------------ profile rules

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTEXTS = ("full", "summary", "recent")


def _check_ref(p: Profile, ref: str, key: KeyPath) -> None:
    if ref in p.models:
        return
    try:
        _, model_id = split_ref(ref, p)
    except ModelError as exc:
        aliases = ", ".join(p.models) or "none"
        raise SchemaError(key, f"{exc} (aliases in this profile: {aliases})") from None
    if not model_id:
        raise SchemaError(key, f"model '{ref}' has no model id after the provider")


def _check_provider(name: str, d: ProviderDef) -> None:
    key: KeyPath = ("providers", name)
    if "/" in name:
        raise SchemaError(key, "a provider name cannot contain '/'")
    if not d.base_url.strip():
        raise SchemaError(key + ("base_url",), "needs a base_url, e.g. \"http://127.0.0.1:8080/v1\"")
    env = d.api_key_env
    if env is not None and (env.startswith("sk-") or not _ENV_NAME.fullmatch(env)):
        raise SchemaError(
            key + ("api_key_env",),
            "this looks like an API key: put the NAME of the environment variable that holds "
            'the key here (e.g. "WORK_API_KEY"), never the key itself',
        )


def _check_stage_validate(rule: str, key: KeyPath) -> None:
    if rule in ("json", "nonempty"):
        return
    if rule.startswith("regex:"):
        try:
            re.compile(rule[len("regex:") :])
        except re.error as exc:
            raise SchemaError(key, f"bad regular expression: {exc}") from None
        return
    raise SchemaError(key, f'expected "json", "nonempty" or "regex:PATTERN", got "{rule}"')


def _check_mcp(name: str, d: McpServerDef) -> None:
    key: KeyPath = ("mcp_servers", name)
    given = [k for k in ("command", "url", "slug") if getattr(d, k)]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise SchemaError(key, f"needs exactly one of command (stdio), url (HTTP) or slug (hosted), got {what}")
    kind = given[0]
    only_for = (("args", "command"), ("env", "command"), ("cwd", "command"), ("headers", "url"))
    for field_name, needs in only_for:
        if getattr(d, field_name) and kind != needs:
            raise SchemaError(key + (field_name,), f"only applies to a server given by {needs}")
    if d.transport != "auto" and kind != "url":
        raise SchemaError(key + ("transport",), "only applies to a server given by url")
    for field_name in ("max_result_chars", "max_media_bytes"):
        if getattr(d, field_name) < 0:
            raise SchemaError(key + (field_name,), "must not be negative")
    for field_name in ("timeout_s", "start_timeout_s"):
        if getattr(d, field_name) <= 0:
            raise SchemaError(key + (field_name,), "must be more than 0")


def _check_limits(limits: Limits) -> None:
    # The converter has already refused NaN and infinities.
    for field_name in ("connect_timeout_s", "first_token_timeout_s", "idle_timeout_s", "turn_timeout_s", "budget_usd"):
        value = getattr(limits, field_name)
        if value is not None and value <= 0:
            raise SchemaError(("limits", field_name), "must be more than 0")


def check_profile(p: Profile) -> None:
    """Rules beyond types: references exist, values are in range. Raises SchemaError."""
    for name, d in p.providers.items():
        _check_provider(name, d)
    for alias, m in p.models.items():
        key: KeyPath = ("models", alias)
        if m.model in p.models:
            raise SchemaError(
                key + ("model",), f"'{m.model}' is an alias: an alias must name a model such as openai/gpt-4.1"
            )
        _check_ref(p, m.model, key + ("model",))
        for field_name in ("input_price", "output_price", "latency_s", "temperature"):
            if (getattr(m, field_name) or 0) < 0:
                raise SchemaError(key + (field_name,), "must not be negative")
        for field_name in ("context_window", "max_tokens"):
            if getattr(m, field_name) is not None and getattr(m, field_name) < 1:
                raise SchemaError(key + (field_name,), "must be at least 1")
    if p.default_model is not None:
        _check_ref(p, p.default_model, ("default_model",))
    for task, ref in p.routing.rules.items():
        _check_ref(p, ref, ("routing", "rules", task))
    c = p.routing.constraints
    for field_name in ("max_cost_usd", "max_latency_s"):
        if (getattr(c, field_name) or 0) < 0:
            raise SchemaError(("routing", "constraints", field_name), "must not be negative")
    if p.handoff.context not in _CONTEXTS:
        raise SchemaError(("handoff", "context"), 'expected one of "full", "summary", "recent"')
    if p.handoff.recent_turns < 1:
        raise SchemaError(("handoff", "recent_turns"), "must be at least 1")
    for i, ref in enumerate(p.handoff.targets):
        _check_ref(p, ref, ("handoff", "targets", i))
    for ref, chain in p.fallbacks.items():
        _check_ref(p, ref, ("fallbacks", ref))
        for i, other in enumerate(chain):
            _check_ref(p, other, ("fallbacks", ref, i))
    rounds = (("parallel", p.parallel.models, "synthesizer"), ("consensus", p.consensus.models, "judge"))
    for section, members, lead in rounds:
        for i, ref in enumerate(members):
            _check_ref(p, ref, (section, "models", i))
        chosen = getattr(getattr(p, section), lead)
        if chosen is not None:
            _check_ref(p, chosen, (section, lead))
    for i, stage in enumerate(p.pipeline.stages):
        _check_stage(p, stage, ("pipeline", "stages", i))
    for name, server in p.mcp_servers.items():
        _check_mcp(name, server)
    _check_limits(p.limits)


def _check_stage(p: Profile, stage: Stage, key: KeyPath) -> None:
    _check_ref(p, stage.model, key + ("model",))
    if stage.checker is not None:
        _check_ref(p, stage.checker, key + ("checker",))
    if stage.check_question is not None and stage.checker is None:
        raise SchemaError(key + ("check_question",), "needs a checker model to ask")
    if stage.validate is not None:
        _check_stage_validate(stage.validate, key + ("validate",))


def profile_from_table(d: dict[str, Any]) -> Profile:
    """A checked Profile from a parsed TOML table; raises SchemaError."""
    profile = from_table(d, Profile)
    check_profile(profile)
    return profile


# ------------------------------------------------------------------- public API


def profile_from_dict(d: dict[str, Any], path: str = "<profile>", text: str = "") -> Profile:
    """Validate a parsed profile table; `text`, when given, is searched for positions."""
    try:
        return profile_from_table(d)
    except SchemaError as exc:
        raise place_error(exc, text, path, ProfileError) from None
    except Exception as exc:  # a bug here must still reach the user as one line
        raise ProfileError(path, f"could not check the profile: {type(exc).__name__}: {exc}") from None


def parse_profile(text: str, path: str = "<profile>") -> Profile:
    return profile_from_dict(parse_toml(text, path, ProfileError), path, text)


def _looks_like_mcp_config(text: str) -> bool:
    """A JSON file of the kind Claude Desktop, Cursor or VS Code keep their MCP servers in."""
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and any(k in data for k in ("mcpServers", "servers", "mcp"))


def load_profile(path: Path | str) -> Profile:
    """The profile in the file at `path`; one without a `name` is named after the file."""
    name = str(path)
    text = read_text(Path(path), ProfileError)
    if text.lstrip().startswith("{") and _looks_like_mcp_config(text):
        raise ProfileError(name, "this is an MCP client's config (mcpServers JSON), not a profile: "
                                 f"baton profile import-mcp {name} --into PROFILE.toml turns it into one")
    data = parse_toml(text, name, ProfileError)
    data.setdefault("name", Path(path).stem)
    return profile_from_dict(data, name, text)


def profile_to_dict(p: Profile) -> dict[str, Any]:
    # The name is always written: a file without one takes its file name when loaded.
    return {"name": p.name, **to_table(p)}


def save_profile(p: Profile, path: Path | str) -> None:
    """Write `p` as TOML, atomically, private to its owner (0600)."""
    try:
        text = dump_toml(profile_to_dict(p))
    except (TypeError, ValueError) as exc:
        raise ProfileError(str(path), f"cannot be written as TOML: {exc}") from None
    atomic_write(Path(path), text)


def find_profile(name_or_path: str) -> Path:
    """An existing path as given, else NAME in <config_dir>/profiles, then ./profiles."""
    from .env import config_dir

    given = Path(name_or_path).expanduser()
    if given.is_file():
        return given
    name = given.name[: -len(".toml")] if given.name.endswith(".toml") else given.name
    looked = []
    if name and given.parent == Path(".") and not given.is_dir():
        for folder in (config_dir() / "profiles", Path("profiles")):
            candidate = folder / f"{name}.toml"
            if candidate.is_file():
                return candidate
            looked.append(str(candidate))
    if given.is_dir():
        raise ProfileError(name_or_path, "is a directory, not a profile file")
    where = f" (looked for {' and '.join(looked)})" if looked else ""
    raise ProfileError(name_or_path, f"no such profile{where}")
