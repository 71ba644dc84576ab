"""TOML files: reading with one-line errors that name the place, writing atomically.

Every problem with a file Baton reads is a `FileFormatError` (or a subclass) whose text
is one line: `PATH:LINE:COL: key.path: message` when the key can be found in the file,
else `PATH: key.path: message`. Every file Baton writes is private: 0600 in 0700
directories.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

KeyPath = tuple[str | int, ...]

FILE_MODE = 0o600
DIR_MODE = 0o700


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


class KeyedProblem(Protocol):
    """A problem at a key path, not yet placed in a file (schema.SchemaError is one)."""

    @property
    def key(self) -> KeyPath: ...

    @property
    def message(self) -> str: ...


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
        # Only used after tomllib accepted the text; a miss just loses a place.
        with contextlib.suppress(IndexError, ValueError, tomllib.TOMLDecodeError):
            self._document()
        return self.places

    def _document(self) -> None:
        text = self.text
        table: KeyPath = ()
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
    exc: KeyedProblem, text: str, path: str, error: type[FileFormatError], prefix: KeyPath = ()
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


# ------------------------------------------------------------------ writing files


def has_carriage_return(obj: Any) -> bool:
    """tomli_w's multi-line strings turn \\r\\n into \\n; such texts stay on one line."""
    if isinstance(obj, str):
        return "\r" in obj
    if isinstance(obj, dict):
        return any(has_carriage_return(k) or has_carriage_return(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return any(has_carriage_return(v) for v in obj)
    return False


_ESCAPED = re.compile('[\x00-\x08\x0a-\x1f\x7f"\\\\]')  # what tomli_w escapes in a "string"
_ESCAPED_MULTILINE = re.compile('[\x00-\x08\x0b-\x1f\x7f"\\\\]')  # the same but \n, in a """string"""
_COMPACT = {"\b": "\\b", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _COMPACT.get(char) or f"\\u{ord(char):04x}"


def toml_string(text: str, *, multiline: bool) -> str:
    """`text` as a TOML string, exactly as tomli_w writes it (its `multiline_strings`
    given as `multiline`), in one regular-expression pass: tomli_w looks at a string a
    character at a time (15 ms for a 120 KB answer here, 1 ms this way)."""
    return "".join(_basic_parts(text, multiline=multiline))


def _basic_parts(text: str, *, multiline: bool) -> list[str]:
    if multiline and "\n" in text:
        return ['"""\n', _ESCAPED_MULTILINE.sub(_escape, text.replace("\r\n", "\n")), '"""']
    return ['"', _ESCAPED.sub(_escape, text), '"']


_NOT_LITERAL = re.compile("[\x00-\x08\x0b-\x1f\x7f]|'''")  # what a '''literal''' string cannot hold


def toml_string_parts(text: str, *, multiline: bool) -> list[str]:
    """`text` as a TOML string, in pieces: its quotes and its body. A text of several
    lines that a multi-line literal string can hold (no control characters but tab and
    newline, no three single quotes) is written as one, from its own string: nothing is
    escaped, so a huge answer is not copied on its way to the file. Any other text is
    written as tomli_w writes it (`toml_string`), quotes apart."""
    if "\n" in text and "\r" not in text and _NOT_LITERAL.search(text) is None:
        return ["'''\n", text, "'''"]  # (the newline after the opening quotes is not part of it)
    return _basic_parts(text, multiline=multiline)


def dump_toml(data: dict[str, Any]) -> str:
    import tomli_w  # only writers pay for it

    return tomli_w.dumps(data, multiline_strings=not has_carriage_return(data))


def private_dir(path: Path) -> Path:
    """`path` as a directory; each one created here (parents too) is 0700.

    An existing directory keeps its mode: it may be the person's own folder.
    """
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by someone else meanwhile
        os.chmod(directory, DIR_MODE)  # mkdir's mode is cut by the umask; this is not
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a directory")
    return path


def open_private(path: Path) -> int:
    """A descriptor appending to `path`, created 0600 and tightened to 0600 if it was not."""
    private_dir(Path(path).parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def append_private(path: Path, text: str) -> None:
    """Append `text` to `path` (a crash log, say), creating it 0600 in 0700 directories."""
    with os.fdopen(open_private(path), "a", encoding="utf-8") as f:
        f.write(text)


WRITE_SLICE = 1 << 20  # a long text is encoded and written this many characters at a time


def atomic_write(path: Path, text: str | Iterable[str], mode: int = FILE_MODE) -> None:
    """Replace `path` with `text` (or its pieces, in order) so that a reader sees the old
    file or the new, never half. A long piece is encoded a slice at a time: a huge answer
    is not copied again whole on its way to the disk.

    A temporary file in the same directory is written, flushed and fsynced, then renamed
    over `path`; on any failure the temporary file is removed and `path` is untouched.
    The file gets `mode` (private by default) even when it replaces a more open one;
    missing directories are created 0700.
    """
    path = Path(path)
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            for piece in [text] if isinstance(text, str) else text:
                for at in range(0, len(piece), WRITE_SLICE):
                    f.write(piece[at : at + WRITE_SLICE])  # (a whole short piece: itself, not a copy)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
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
