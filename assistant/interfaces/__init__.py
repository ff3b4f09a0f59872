"""Every way in: the CLI, the MCP server, the HTTP API (api/) and the web UI (ui/), served together
by serve.py. Each is a thin caller of one :class:`~assistant.core.Assistant`."""
