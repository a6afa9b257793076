"""The web feature inside the gateway: storage, routes, CLI and workers around channels/web."""
