"""A would-be MCP server that dies before speaking: for start-up failure tests."""

import sys

sys.stderr.write("crash server: missing configuration, giving up\n")
raise SystemExit(1)
