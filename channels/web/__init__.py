"""The 找茬窗口 web form as pure functions: signed window links (``links``), one-time form tokens and
the derived status 查询码 (``tokens``), and form checking into an ``Intake`` (``form``).  The gateway's
``gateway.web`` package serves the pages and stores the results."""
