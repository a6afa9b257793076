"""The shared core: the case model and its store, ingest, workflow, deadlines and the working-day
calendar, the outbox, tracking codes, the registry of halls, rosters, locks, settings and services.

Nothing here imports a feature (``gateway.email``, ``gateway.console``, …): features build on the core.
"""
