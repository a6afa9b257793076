"""The paper feature inside the gateway: storage, routes, CLI and workers around channels/paper."""
