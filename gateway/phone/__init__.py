"""The phone feature inside the gateway: storage, routes, CLI and workers around channels/phone."""
