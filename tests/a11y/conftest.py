from tests.browser import browser, live_server, sqlite_services  # noqa: F401
