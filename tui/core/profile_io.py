"""Reading, validating and writing profiles.

Every problem with a profile is one `ProfileError` whose text is a single line,
`PATH:LINE:COL: key.path: message` when the key can be found in the file, else
`PATH: key.path: message`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tempfile
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from .models import ModelError, split_ref
from .profile import McpServerDef, Profile, ProviderDef, Stage

KeyPath = tuple[str | int, ...]


class FileFormatError(Exception):
    """A file Baton reads is wrong; str() is one line naming the file and the place."""

    def __init__(
        self,
        path: str,
        message: str,
        *,
        key: KeyPath = (),
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        self.path = str(path)
        self.message = " ".join(str(message).split("\n")).strip()
        self.key = key
        self.line = line
        self.col = col
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        what = f"{format_key(self.key)}: {self.message}" if self.key else self.message
        return f"{where}: {what}"


class ProfileError(FileFormatError):
    """A profile that cannot be read, is not TOML, or does not fit the schema."""


class Invalid(Exception):
    """A validation failure at a key path, before it is placed in a file."""

    def __init__(self, key: KeyPath, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


# ----------------------------------------------------------------------- key paths

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}\r\n#]*")


def format_key(key: KeyPath) -> str:
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{text}" if out else text
    return out


# ------------------------------------------------------------------ reading files


def read_text(path: Path, error: type[FileFormatError]) -> str:
    """The file's text, or `error` for a missing, unreadable or non-UTF-8 file."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(str(path), "no such file") from None
    except IsADirectoryError:
        raise error(str(path), "is a directory, not a file") from None
    except PermissionError:
        raise error(str(path), "permission denied") from None
    except OSError as exc:
        raise error(str(path), exc.strerror or str(exc)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(str(path), "not valid UTF-8", line=line, col=col) from None


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def parse_toml(text: str, path: str, error: type[FileFormatError]) -> dict[str, Any]:
    """tomllib, with its syntax errors turned into `error` at tomllib's LINE:COL."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = col = None
        if m := _TOML_AT.search(message):
            line, col = int(m.group(1)), int(m.group(2))
            message = message[: m.start()]
        elif m := _TOML_AT_END.search(message):
            line, col = _line_col(text, len(text))
            message = message[: m.start()] + " at end of file"
        raise error(path, f"invalid TOML: {message}", line=line, col=col) from None
    except RecursionError:
        raise error(path, "invalid TOML: nested too deeply") from None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


# -------------------------------------------------------------- finding key places


class _KeyScanner:
    """Where each key path is written in a TOML text (best effort, for messages).

    Knows headers, arrays of tables, dotted keys, inline tables and arrays, so that
    `models.writer.prise` or `handoff.targets[1]` points at its own line and column.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.places: dict[KeyPath, int] = {}
        self.aot: dict[KeyPath, int] = {}  # array-of-tables path -> last index

    def scan(self) -> dict[KeyPath, int]:
        try:
            self._document()
        except (IndexError, ValueError, tomllib.TOMLDecodeError):
            pass  # only used after tomllib accepted the text; a miss just loses a place
        return self.places

    def _document(self) -> None:
        text, table = self.text, ()
        while True:
            self._skip(newlines=True)
            if self.i >= len(text):
                return
            start = self.i
            if text[self.i] == "[":
                is_aot = text.startswith("[[", self.i)
                self.i += 2 if is_aot else 1
                parts = self._key()
                self._skip()
                self.i += 2 if is_aot else 1
                table = self._resolve(parts[:-1]) + (parts[-1],)
                if is_aot:
                    index = self.aot.get(table, -1) + 1
                    self.aot[table] = index
                    self.places.setdefault(table, start)
                    table = table + (index,)
                self.places.setdefault(table, start)
            else:
                self._pair(table)
            self._skip()

    def _resolve(self, parts: list[str]) -> KeyPath:
        out: KeyPath = ()
        for part in parts:
            out = out + (part,)
            if out in self.aot:
                out = out + (self.aot[out],)
        return out

    def _pair(self, table: KeyPath) -> None:
        start = self.i
        parts = self._key()
        for n in range(1, len(parts) + 1):
            self.places.setdefault(table + tuple(parts[:n]), start)
        self._skip()
        if self.text[self.i] != "=":
            raise ValueError("expected =")
        self.i += 1
        self._skip()
        self._value(table + tuple(parts))

    def _skip(self, newlines: bool = False) -> None:
        text, n = self.text, len(self.text)
        while self.i < n:
            c = text[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#":
                end = text.find("\n", self.i)
                self.i = n if end < 0 else end
            else:
                return

    def _key(self) -> list[str]:
        parts = []
        while True:
            self._skip()
            c = self.text[self.i]
            if c in "\"'":
                start = self.i
                self._string()
                parts.append(tomllib.loads("k = " + self.text[start : self.i])["k"])
            else:
                m = _BARE_KEY.match(self.text, self.i)
                if not m:
                    raise ValueError("expected a key")
                parts.append(m.group())
                self.i = m.end()
            self._skip()
            if self.i < len(self.text) and self.text[self.i] == ".":
                self.i += 1
                continue
            return parts

    def _string(self) -> None:
        text = self.text
        quote = text[self.i]
        if text.startswith(quote * 3, self.i):
            self.i += 3
            while not text.startswith(quote * 3, self.i):
                self.i += 2 if quote == '"' and text[self.i] == "\\" else 1
                if self.i >= len(text):
                    raise ValueError("unterminated string")
            self.i += 3
            while self.i < len(text) and text[self.i] == quote:  # """a"""" ends in a quote
                self.i += 1
            return
        self.i += 1
        while text[self.i] != quote:
            self.i += 2 if quote == '"' and text[self.i] == "\\" else 1
        self.i += 1

    def _value(self, path: KeyPath) -> None:
        text = self.text
        c = text[self.i]
        if c in "\"'":
            self._string()
        elif c == "[":
            self.i += 1
            index = 0
            while True:
                self._skip(newlines=True)
                if text[self.i] == "]":
                    self.i += 1
                    return
                self.places.setdefault(path + (index,), self.i)
                self._value(path + (index,))
                self._skip(newlines=True)
                if text[self.i] == ",":
                    self.i += 1
                index += 1
        elif c == "{":
            self.i += 1
            while True:
                self._skip()
                if text[self.i] == "}":
                    self.i += 1
                    return
                self._pair(path)
                self._skip()
                if text[self.i] == ",":
                    self.i += 1
        else:
            m = _SCALAR.match(text, self.i)
            self.i = m.end() if m else self.i + 1


def place_error(
    exc: Invalid, text: str, path: str, error: type[FileFormatError], prefix: KeyPath = ()
) -> FileFormatError:
    """`exc` as `error`, with the line and column of its key when they can be found."""
    key = prefix + exc.key
    places = _KeyScanner(text).scan() if text else {}
    # A key that is missing (a required one) is placed at the table that lacks it.
    offset = next((places[key[:n]] for n in range(len(key), 0, -1) if key[:n] in places), None)
    if offset is None:
        return error(path, exc.message, key=key)
    line, col = _line_col(text, offset)
    return error(path, exc.message, key=key, line=line, col=col)


# --------------------------------------------------------------- schema checking

_TOML_TYPE = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
_HINTS: dict[type, dict[str, Any]] = {}


def _type_name(value: Any) -> str:
    return _TOML_TYPE.get(type(value), "date/time")


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def convert(value: Any, tp: Any, key: KeyPath) -> Any:
    """`value` from TOML checked against the annotation `tp`; Invalid if it does not fit."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return convert(value, inner[0], key)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices and type(value) is type(choices[0]):
            return value
        got = f'"{value}"' if isinstance(value, str) else _type_name(value)
        listed = ", ".join(f'"{c}"' for c in choices)
        raise Invalid(key, f"expected one of {listed}, got {got}")
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise Invalid(key, f"expected true or false, got {_type_name(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise Invalid(key, f"expected an integer, got {_type_name(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise Invalid(key, f"expected a number, got {_type_name(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise Invalid(key, f"expected a string, got {_type_name(value)}")
    if origin is list:
        if not isinstance(value, list):
            raise Invalid(key, f"expected an array, got {_type_name(value)}")
        (item,) = typing.get_args(tp)
        return [convert(v, item, key + (i,)) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise Invalid(key, f"expected a table, got {_type_name(value)}")
        _, item = typing.get_args(tp)
        return {k: convert(v, item, key + (k,)) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _dataclass(value, tp, key)
    raise TypeError(f"unsupported annotation {tp!r}")


def _dataclass(value: Any, cls: type, key: KeyPath) -> Any:
    if not isinstance(value, dict):
        raise Invalid(key, f"expected a table, got {_type_name(value)}")
    hints = _hints(cls)
    kwargs = {}
    for name, item in value.items():
        if name not in hints:
            close = difflib.get_close_matches(name, list(hints), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise Invalid(key + (name,), f"unknown key{hint}")
        kwargs[name] = convert(item, hints[name], key + (name,))
    for f in dataclasses.fields(cls):
        if (
            f.name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            raise Invalid(key, f'missing required key "{f.name}"')
    return cls(**kwargs)


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
        raise Invalid(key, f"{exc} (aliases in this profile: {aliases})") from None
    if not model_id:
        raise Invalid(key, f"model '{ref}' has no model id after the provider")


def _check_provider(name: str, d: ProviderDef) -> None:
    key: KeyPath = ("providers", name)
    if "/" in name:
        raise Invalid(key, "a provider name cannot contain '/'")
    if not d.base_url.strip():
        raise Invalid(key + ("base_url",), "needs a base_url, e.g. \"http://127.0.0.1:8080/v1\"")
    env = d.api_key_env
    if env is not None and (env.startswith("sk-") or not _ENV_NAME.fullmatch(env)):
        raise Invalid(
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
            raise Invalid(key, f"bad regular expression: {exc}") from None
        return
    raise Invalid(key, f'expected "json", "nonempty" or "regex:PATTERN", got "{rule}"')


def _check_mcp(name: str, d: McpServerDef) -> None:
    key: KeyPath = ("mcp_servers", name)
    given = [k for k in ("command", "url", "slug") if getattr(d, k)]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise Invalid(key, f"needs exactly one of command (stdio), url (HTTP) or slug (hosted), got {what}")
    kind = given[0]
    only_for = (("args", "command"), ("env", "command"), ("cwd", "command"), ("headers", "url"))
    for field_name, needs in only_for:
        if getattr(d, field_name) and kind != needs:
            raise Invalid(key + (field_name,), f"only applies to a server given by {needs}")
    if d.timeout_s <= 0:
        raise Invalid(key + ("timeout_s",), "must be more than 0")


def check_profile(p: Profile) -> None:
    """Rules beyond types: references exist, values are in range. Raises Invalid."""
    for name, d in p.providers.items():
        _check_provider(name, d)
    for alias, m in p.models.items():
        key: KeyPath = ("models", alias)
        if m.model in p.models:
            raise Invalid(
                key + ("model",), f"'{m.model}' is an alias: an alias must name a model such as openai/gpt-4.1"
            )
        _check_ref(p, m.model, key + ("model",))
        for field_name in ("input_price", "output_price", "latency_s", "temperature"):
            if (getattr(m, field_name) or 0) < 0:
                raise Invalid(key + (field_name,), "must not be negative")
        for field_name in ("context_window", "max_tokens"):
            if getattr(m, field_name) is not None and getattr(m, field_name) < 1:
                raise Invalid(key + (field_name,), "must be at least 1")
    if p.default_model is not None:
        _check_ref(p, p.default_model, ("default_model",))
    for task, ref in p.routing.rules.items():
        _check_ref(p, ref, ("routing", "rules", task))
    c = p.routing.constraints
    for field_name in ("max_cost_usd", "max_latency_s"):
        if (getattr(c, field_name) or 0) < 0:
            raise Invalid(("routing", "constraints", field_name), "must not be negative")
    if p.handoff.context not in _CONTEXTS:
        raise Invalid(("handoff", "context"), 'expected one of "full", "summary", "recent"')
    if p.handoff.recent_turns < 1:
        raise Invalid(("handoff", "recent_turns"), "must be at least 1")
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


def _check_stage(p: Profile, stage: Stage, key: KeyPath) -> None:
    _check_ref(p, stage.model, key + ("model",))
    if stage.checker is not None:
        _check_ref(p, stage.checker, key + ("checker",))
    if stage.check_question is not None and stage.checker is None:
        raise Invalid(key + ("check_question",), "needs a checker model to ask")
    if stage.validate is not None:
        _check_stage_validate(stage.validate, key + ("validate",))


def profile_from_table(d: dict[str, Any]) -> Profile:
    """A checked Profile from a parsed TOML table; raises Invalid."""
    profile = _dataclass(d, Profile, ())
    check_profile(profile)
    return profile


# ------------------------------------------------------------------- public API


def profile_from_dict(d: dict[str, Any], path: str = "<profile>", text: str = "") -> Profile:
    """Validate a parsed profile table; `text`, when given, is searched for positions."""
    try:
        return profile_from_table(d)
    except Invalid as exc:
        raise place_error(exc, text, path, ProfileError) from None
    except Exception as exc:  # a bug here must still reach the user as one line
        raise ProfileError(path, f"could not check the profile: {type(exc).__name__}: {exc}") from None


def parse_profile(text: str, path: str = "<profile>") -> Profile:
    return profile_from_dict(parse_toml(text, path, ProfileError), path, text)


def load_profile(path: Path | str) -> Profile:
    """The profile in the file at `path`; one without a `name` is named after the file."""
    name = str(path)
    text = read_text(Path(path), ProfileError)
    data = parse_toml(text, name, ProfileError)
    data.setdefault("name", Path(path).stem)
    return profile_from_dict(data, name, text)


def to_table(obj: Any) -> Any:
    """A dataclass as TOML-ready data: None and values equal to their default left out."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None:
                continue
            if f.default is not dataclasses.MISSING:
                if value == f.default:
                    continue
            elif f.default_factory is not dataclasses.MISSING and value == f.default_factory():
                continue
            out[f.name] = to_table(value)
        return out
    if isinstance(obj, dict):
        return {k: to_table(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [to_table(v) for v in obj if v is not None]
    return obj


def profile_to_dict(p: Profile) -> dict[str, Any]:
    # The name is always written: a file without one takes its file name when loaded.
    return {"name": p.name, **to_table(p)}


def has_carriage_return(obj: Any) -> bool:
    """tomli_w's multi-line strings turn \\r\\n into \\n; such texts stay on one line."""
    if isinstance(obj, str):
        return "\r" in obj
    if isinstance(obj, dict):
        return any(has_carriage_return(k) or has_carriage_return(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return any(has_carriage_return(v) for v in obj)
    return False


def dump_toml(data: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(data, multiline_strings=not has_carriage_return(data))


def atomic_write(path: Path, text: str, mode: int | None = None) -> None:
    """Replace `path` with `text` so that a reader sees the old file or the new, never half.

    A temporary file in the same directory is written, flushed and fsynced, then renamed
    over `path`; on any failure the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable; not every system can open a directory
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def save_profile(p: Profile, path: Path | str) -> None:
    """Write `p` as TOML, atomically; a new file is readable by others (0644)."""
    try:
        text = dump_toml(profile_to_dict(p))
    except (TypeError, ValueError) as exc:
        raise ProfileError(str(path), f"cannot be written as TOML: {exc}") from None
    atomic_write(Path(path), text, mode=0o644)


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
