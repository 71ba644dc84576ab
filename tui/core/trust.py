"""Trust for files from elsewhere: what a profile would run or send, and the person's consent.

A profile (or the `[profile]` of a session) that starts a process (an MCP stdio command),
connects to an MCP URL, or sends a key variable to a host it names is untrusted until the
person agrees, unless it lives in Baton's own config or data directory or Baton wrote it.
Consent is kept per file and per fingerprint of those parts only, so editing a prompt or a
price does not ask again and editing a command does.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .env import config_dir, data_dir
from .models import BUILTIN_PROVIDERS
from .profile import Profile
from .text import neutralise

STORE_NAME = "trusted.json"
_FINGERPRINT_VERSION = "baton-trust-1"

def visible(text: str) -> str:
    """`text` with every control character but tab and newline made visible (ESC shows as ␛)."""
    return neutralise(text)


_PLAIN_ARG = re.compile(r"[\w@%+=:,./-]+")


def _quote(arg: str) -> str:
    """An argument as a person reads it: bare when plain, else in double quotes with escapes."""
    return arg if _PLAIN_ARG.fullmatch(arg) else json.dumps(arg, ensure_ascii=False)


def _flat(text: str) -> str:
    """One visible line: newlines and tabs from the file shown, not obeyed."""
    return visible(text).replace("\n", "\\n").replace("\t", "\\t")


@dataclass(frozen=True)
class Command:
    """An MCP stdio server: a process Baton would start."""

    server: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # name, value as written (may say ${VAR})
    cwd: str | None = None


@dataclass(frozen=True)
class KeySend:
    """A provider that sends the value of `key_env` to `host`."""

    provider: str
    key_env: str
    host: str  # scheme://host:port


@dataclass(frozen=True)
class Remote:
    """An MCP server reached over HTTP, with the headers it would be sent."""

    server: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()  # name, value as written (may say ${VAR})


@dataclass(frozen=True)
class Exposure:
    """What a profile would do that needs the person's consent."""

    commands: tuple[Command, ...] = ()
    keys: tuple[KeySend, ...] = ()
    urls: tuple[Remote, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.commands or self.keys or self.urls)

    def lines(self) -> list[str]:
        """One visible line per thing that would happen (control characters neutralised)."""
        out: list[str] = []
        for c in self.commands:
            command = " ".join(_quote(a) for a in (c.command, *c.args))
            out.append(f"runs: {_flat(command)}  (MCP server {_flat(c.server)})")
            if c.env:
                out.append("  with env: " + " ".join(_flat(f"{k}={v}") for k, v in c.env))
            if c.cwd:
                out.append(f"  in directory: {_flat(c.cwd)}")
        for k in self.keys:
            out.append(f"sends {_flat(k.key_env)} to {_flat(k.host)}  (provider {_flat(k.provider)})")
        for r in self.urls:
            out.append(f"connects to {_flat(r.url)}  (MCP server {_flat(r.server)})")
            if r.headers:
                out.append("  with headers: " + " ".join(_flat(f"{k}: {v}") for k, v in r.headers))
        return out


@dataclass(frozen=True)
class Blocked:
    """Providers and MCP servers that stay off while their file is untrusted, each with why."""

    providers: dict[str, str] = field(default_factory=dict)
    mcp_servers: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.providers or self.mcp_servers)


def host_of(url: str) -> str:
    """`scheme://host:port` of `url` (default ports filled in), or `url` itself when it has no host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return url
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _builtin_home(key_env: str, host: str) -> bool:
    """The key goes where Baton would send it anyway (its own provider's default host)."""
    return any(
        b.api_key_env == key_env and host_of(b.default_base_url) == host for b in BUILTIN_PROVIDERS.values()
    )


def exposure(profile: Profile) -> Exposure:
    commands: list[Command] = []
    urls: list[Remote] = []
    for name, server in sorted(profile.mcp_servers.items()):
        if server.command:
            commands.append(Command(
                server=name,
                command=server.command,
                args=tuple(server.args),
                env=tuple(sorted(server.env.items())),
                cwd=server.cwd,
            ))
        elif server.url:
            urls.append(Remote(server=name, url=server.url, headers=tuple(sorted(server.headers.items()))))
    keys: list[KeySend] = []
    for name, provider in sorted(profile.providers.items()):
        if not provider.api_key_env:
            continue
        host = host_of(provider.base_url)
        if not _builtin_home(provider.api_key_env, host):
            keys.append(KeySend(provider=name, key_env=provider.api_key_env, host=host))
    return Exposure(commands=tuple(commands), keys=tuple(keys), urls=tuple(urls))


def fingerprint(exp: Exposure) -> str:
    """sha256 over what would run and where keys go; names and order do not count."""

    def canonical(items: list[Any]) -> list[str]:
        return sorted(json.dumps(i, sort_keys=True, ensure_ascii=False) for i in items)

    data = {
        "v": _FINGERPRINT_VERSION,
        "commands": canonical([[c.command, list(c.args), sorted(c.env), c.cwd] for c in exp.commands]),
        "keys": canonical([[k.key_env, k.host] for k in exp.keys]),
        "urls": canonical([[r.url, sorted(r.headers)] for r in exp.urls]),
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def blocked(profile: Profile, path: str | None = None) -> Blocked:
    """What must stay off while the profile's file is untrusted; `path` names it in the reason."""
    how = f"run baton trust {shlex.quote(path)}" if path else "run baton trust PATH"
    reason = f"off: this file is not trusted; {how}"
    exp = exposure(profile)
    return Blocked(
        providers={k.provider: reason for k in exp.keys},
        mcp_servers={name: reason for name in [c.server for c in exp.commands] + [r.server for r in exp.urls]},
    )


# ------------------------------------------------------------------ consent store


def store_path(env: Mapping[str, str]) -> Path:
    return config_dir(env) / STORE_NAME


def _key(path: Path) -> str:
    return str(Path(path).expanduser().resolve())


def _read_store(env: Mapping[str, str]) -> dict[str, str]:
    try:
        data = json.loads(store_path(env).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}


def _write_private(path: Path, text: str) -> None:
    """Atomically replace `path`: a 0600 file in a 0700 directory."""
    from .files.tomlfile import atomic_write

    atomic_write(path, text)


def _in_own_dirs(path: Path, env: Mapping[str, str]) -> bool:
    """Under the config or data directory, sessions aside: Baton writes sessions of
    untrusted files there too (with their parts off), so a session is trusted only by
    consent, which Baton records itself when it saves one whose parts were on."""
    resolved = Path(_key(path))
    try:
        if resolved.is_relative_to((data_dir(env) / "sessions").expanduser().resolve()):
            return False
    except OSError:
        return False
    for folder in (config_dir(env), data_dir(env)):
        try:
            if resolved.is_relative_to(folder.expanduser().resolve()):
                return True
        except OSError:
            continue
    return False


def is_trusted(path: Path | str, profile: Profile, env: Mapping[str, str]) -> bool:
    """True when `profile` (read from `path`) may run its commands and send its keys.

    `env` must be the process environment, never one merged with a `.env` file: a `.env`
    in the working directory could otherwise move "Baton's own directories" onto the file.
    """
    exp = exposure(profile)
    if exp.empty or _in_own_dirs(Path(path), env):
        return True
    return _read_store(env).get(_key(Path(path))) == fingerprint(exp)


def trust(path: Path | str, profile: Profile, env: Mapping[str, str]) -> None:
    """Record consent to what `profile` (read from `path`) would do. Raises OSError."""
    files = _read_store(env)
    files[_key(Path(path))] = fingerprint(exposure(profile))
    _write_private(store_path(env), json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True) + "\n")


def remember_written(path: Path | str, profile: Profile, env: Mapping[str, str]) -> None:
    """Baton wrote `profile` to `path` (/save PATH, /profile save PATH): it stays trusted.

    Call it only for a profile that is itself trusted, or saving would launder consent.
    """
    if not exposure(profile).empty and not _in_own_dirs(Path(path), env):
        trust(path, profile, env)


def read_profile(path: Path | str) -> Profile:
    """The profile of a profile TOML or of a session TOML. Raises FileFormatError (one line)."""
    from .profile_io import ProfileError, load_profile, parse_toml, read_text

    text = read_text(Path(path), ProfileError)
    data = parse_toml(text, str(path), ProfileError)
    if "version" in data or "messages" in data:
        from .session import load_session

        return load_session(path)[0]
    return load_profile(path)
