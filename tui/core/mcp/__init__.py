"""MCP: the profile's servers as a ToolBox, and Baton's own handoff server."""
