"""MCP: other programs' tools for aiw's models, and aiw's knowledge and review for other agents."""
