"""Staff sign-in, roles and town scope, CSRF, the audit log.

Every route declares who may call it with :func:`gateway.auth.access.public` or
:func:`gateway.auth.access.staff`; ``tests/gateway/test_route_access.py`` walks the route table
and fails on a route that declares nothing.
"""
