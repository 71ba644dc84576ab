"""MCP configs of Claude Desktop, Cursor, VS Code and oterm become the profile's [mcp_servers.*]."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tui.core.mcp.client import McpTools
from tui.core.mcp.importer import McpImportError, import_mcp, import_mcp_file, is_mcp_config, merge_into
from tui.core.mcp.variables import deferred, expand
from tui.core.profile import McpServerDef
from tui.core.profile_io import parse_profile

ECHO = str(Path(__file__).parent / "mcp_servers" / "echo_server.py")

CLAUDE_DESKTOP = """{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "${HOME}/Desktop", "${WORK:-/srv/work}"]
    },
    "github": {
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"}
    }
  }
}"""

CURSOR = """{
  "mcpServers": {
    "linear.app": {"url": "https://mcp.linear.app/sse", "headers": {"Authorization": "Bearer ${env:LINEAR_KEY}"}},
    "local": {"url": "http://127.0.0.1:${PORT:-9000}/mcp"},
    "cost$": {"command": "python", "args": ["-m", "pricer", "--currency", "$USD", "$$HOME"],
              "env": {"PRICE": "$5", "LEVEL": 3}}
  }
}"""

VSCODE = """// .vscode/mcp.json
{
  "servers": {
    "fetch": {"type": "stdio", "command": "uvx", "args": ["mcp-server-fetch"],},
    /* a remote one */
    "docs": {"type": "http", "url": "https://example.com/mcp", "headers": {"X-Key": "${input:docs-key}"}},
    "old": {"type": "sse", "url": "https://example.com/sse"},
  },
}"""

ENV = {"HOME": "/home/ada", "GITHUB_TOKEN": "ghp_secret", "LINEAR_KEY": "lin_secret"}


def test_claude_desktop_config() -> None:
    servers = import_mcp(CLAUDE_DESKTOP, "claude_desktop_config.json", ENV)
    assert list(servers) == ["filesystem", "github"]
    fs = servers["filesystem"]
    assert fs.command == "npx"
    assert fs.args == ["-y", "@modelcontextprotocol/server-filesystem", "/home/ada/Desktop", "/srv/work"]
    # Secrets stay references, expanded each time the server starts.
    assert servers["github"].env == {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"}


def test_cursor_config_with_url_and_headers() -> None:
    servers = import_mcp(CURSOR, "mcp.json", ENV)
    assert list(servers) == ["linear_app", "local", "cost"]
    linear = servers["linear_app"]
    assert (linear.url, linear.transport) == ("https://mcp.linear.app/sse", "auto")
    assert linear.headers == {"Authorization": "Bearer ${LINEAR_KEY}"}
    assert servers["local"].url == "http://127.0.0.1:9000/mcp"
    cost = servers["cost"]
    assert cost.args == ["-m", "pricer", "--currency", "$USD", "$HOME"]  # lone $ kept, $$ is a dollar
    assert cost.env == {"PRICE": "$$5", "LEVEL": "3"}  # written so that starting gives "$5"


def test_vscode_config_with_types_comments_and_trailing_commas() -> None:
    servers = import_mcp(VSCODE, ".vscode/mcp.json", ENV)
    assert servers["fetch"] == McpServerDef(command="uvx", args=["mcp-server-fetch"])
    # VS Code's "http" falls back to SSE, as Baton's "auto" does.
    assert (servers["docs"].url, servers["docs"].transport) == ("https://example.com/mcp", "auto")
    assert servers["docs"].headers == {"X-Key": "$${input:docs-key}"}  # not ours to expand: kept as written
    assert servers["old"].transport == "sse"


def test_streamable_http_by_name_does_not_fall_back() -> None:
    text = json.dumps({"mcpServers": {"s": {"type": "streamableHttp", "url": "http://h/mcp"}}})
    assert import_mcp(text, "c.json", {})["s"].transport == "http"


def test_vscode_settings_and_oterm_shapes() -> None:
    settings = json.dumps({"editor.fontSize": 14, "mcp": {"servers": {"git": {"command": "uvx", "args": ["mcp-git"]}}}})
    assert import_mcp(settings, "settings.json", {})["git"].args == ["mcp-git"]
    oterm = json.dumps({"theme": "dark", "mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}})
    assert import_mcp(oterm, "config.json", {})["time"].command == "uvx"


@pytest.mark.parametrize(
    ("value", "expanded"),
    [
        ("${A}", "1"),
        ("x${A}y${A}", "x1y1"),
        ("${B:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY}", ""),
        ("${env:A}", "1"),
        ("$$", "$"),
        ("$${A}", "${A}"),
        ("$A", "$A"),
        ("price: $5", "price: $5"),
        ("$", "$"),
        ("${A", "${A"),
        ("${input:key}", "${input:key}"),
        ("$(whoami) `id` ~", "$(whoami) `id` ~"),
    ],
)
def test_expansion(value: str, expanded: str) -> None:
    env = {"A": "1", "EMPTY": ""}
    assert expand(value, env) == expanded
    # Kept for later in env and headers, it gives the same when the server starts.
    assert expand(deferred(value), env, bare=True) == expanded


def test_a_missing_variable_without_default_is_one_line() -> None:
    text = '{"mcpServers": {"s": {"command": "run", "args": ["--dir", "${NOWHERE}"]}}}'
    with pytest.raises(McpImportError) as caught:
        import_mcp(text, "c.json", {})
    assert str(caught.value) == "c.json: mcpServers.s: environment variable NOWHERE is not set, and it has no default"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"mcpServers": {"s": {"command": x}}}', "c.json:1:34: not valid JSON: Expecting value"),
        ('{\n  "mcpServers": {\n    "s": {"command" "x"}\n  }\n}', "c.json:3:21: not valid JSON: Expecting ':'"),
        ("[1, 2]", "c.json: expected a JSON object with mcpServers or servers"),
        ('{"theme": "dark"}', "c.json: no mcpServers, servers or mcp.servers object found"),
        ('{"mcp": {"servers": {}}}', "c.json: mcp.servers has no servers"),
        ('{"mcpServers": []}', "c.json: mcpServers: expected an object of servers by name"),
        ('{"mcpServers": {"s": {}}}', "c.json: mcpServers.s: needs a command (stdio) or a url (HTTP)"),
        ('{"mcpServers": {"s": {"command": "a", "url": "http://h"}}}', "c.json: mcpServers.s: has both command"),
        ('{"mcpServers": {"s": {"type": "ws", "url": "ws://h"}}}', 'c.json: mcpServers.s.type: transport "ws"'),
        ('{"mcpServers": {"s": {"type": "sse", "command": "x"}}}', 'c.json: mcpServers.s.type: type "sse" needs a url'),
        ('{"mcpServers": {"s": {"type": "stdio", "url": "http://h"}}}', 's.type: type "stdio" needs a command'),
        ('{"mcpServers": {"s": {"command": "a", "args": "b"}}}', "c.json: mcpServers.s.args: expected a list"),
        ('{"mcpServers": {"s": {"command": "a", "args": [{}]}}}', "c.json: mcpServers.s.args[0]: expected a string"),
        ('{"mcpServers": {"s": {"url": "http://h", "headers": {"A": "b\\nc"}}}}', "mcpServers.s.headers.A: contains"),
    ],
)
def test_bad_configs_are_one_line(text: str, message: str) -> None:
    with pytest.raises(McpImportError) as caught:
        import_mcp(text, "c.json", {})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_names_are_made_valid_and_unique() -> None:
    servers = {"my server": {"command": "a"}, "my.server": {"command": "b"}, "!!": {"command": "c"}}
    text = json.dumps({"mcpServers": servers})
    assert list(import_mcp(text, "c.json", {})) == ["my_server", "my_server_2", "server"]


def test_a_new_profile_holds_just_the_servers() -> None:
    servers = import_mcp(CLAUDE_DESKTOP, "c.json", ENV) | import_mcp(VSCODE, "v.json", ENV)
    text = merge_into(None, servers)
    profile = parse_profile(text, "new.toml")
    assert profile.mcp_servers == servers
    assert "ghp_secret" not in text


def test_servers_are_added_to_a_profile_keeping_its_text(tmp_path: Path) -> None:
    path = tmp_path / "work.toml"
    path.write_text(
        '# my profile\ndefault_model = "openai/gpt-4.1"\n\n'
        '[mcp_servers.fetch]\ncommand = "uvx"\nargs = ["mcp-server-fetch"]\n'
    )
    servers = import_mcp(VSCODE, "v.json", ENV)
    text = merge_into(path, servers)
    assert text.startswith('# my profile\ndefault_model = "openai/gpt-4.1"\n')
    profile = parse_profile(text, str(path))
    assert profile.default_model == "openai/gpt-4.1"
    assert set(profile.mcp_servers) == {"fetch", "docs", "old"}
    assert merge_into(path, {"fetch": servers["fetch"]}) == path.read_text()  # the same server: nothing to add


def test_a_different_server_of_the_same_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "work.toml"
    path.write_text('[mcp_servers.fetch]\ncommand = "other"\n')
    with pytest.raises(McpImportError) as caught:
        merge_into(path, import_mcp(VSCODE, "v.json", ENV))
    assert str(caught.value) == (
        f"{path}: mcp_servers.fetch exists and is different; rename or remove one of them first"
    )


def test_a_bad_or_missing_profile_is_one_line(tmp_path: Path) -> None:
    servers = import_mcp(VSCODE, "v.json", ENV)
    with pytest.raises(McpImportError, match="no such file|not found|No such"):
        merge_into(tmp_path / "missing.toml", servers)
    inline = tmp_path / "inline.toml"
    inline.write_text('mcp_servers = { fetch = { command = "uvx" } }\n')
    with pytest.raises(McpImportError) as caught:
        merge_into(inline, {"new": McpServerDef(command="x")})
    assert "cannot be added at its end" in str(caught.value) and "\n" not in str(caught.value)


async def test_an_imported_server_runs_with_its_deferred_env(tmp_path: Path) -> None:
    text = json.dumps(
        {"mcpServers": {"echo": {"command": sys.executable, "args": [ECHO], "env": {"TOKEN": "${T}", "PRICE": "$5"}}}}
    )
    servers = parse_profile(merge_into(None, import_mcp(text, "c.json", {})), "p.toml").mcp_servers
    box = McpTools(servers, {"T": "from the environment"}, log_dir=tmp_path)
    try:
        assert await box.start() == []
        assert (await box.call("echo__env", {"name": "TOKEN"})).text == "from the environment"
        assert (await box.call("echo__env", {"name": "PRICE"})).text == "$5"
    finally:
        await box.aclose()


def test_files_and_what_looks_like_a_config(tmp_path: Path) -> None:
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(CLAUDE_DESKTOP, encoding="utf-8-sig")  # a byte order mark, as Windows editors write
    assert list(import_mcp_file(config, ENV)) == ["filesystem", "github"]
    with pytest.raises(McpImportError, match=r"missing\.json: cannot be read: No such file"):
        import_mcp_file(tmp_path / "missing.json", ENV)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(McpImportError, match="not UTF-8 text"):
        import_mcp_file(tmp_path / "bin.json", ENV)
    assert is_mcp_config(CLAUDE_DESKTOP) and is_mcp_config(VSCODE)
    assert not is_mcp_config('{"name": "a profile"}') and not is_mcp_config("name = 'toml'")


def test_an_error_naming_a_hostile_server_stays_one_visible_line() -> None:
    text = json.dumps({"mcpServers": {"evil\n\x1b[31mname": {"command": ["not", "a", "string"]}}})
    with pytest.raises(McpImportError) as caught:
        import_mcp(text, "c.json", {})
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message
    assert "expected a string" in message
