"""SMS: one outbox sender in front of three providers (Alibaba Cloud SMS, Tencent Cloud SMS, Twilio),
chosen by ``HCP_SMS_PROVIDER``; delivery reports moved onto the outbox rows; the ``/sms`` channel page.

* ``content``   — each message kind as an approved template code and its parameters (or free text for Twilio).
* ``providers`` — the interface and the error classes every provider maps its codes to.
* ``alibaba``, ``tencent``, ``twilio`` — one module per provider, each through its own SDK.
* ``sender``    — the outbox ``Sender`` for channel ``sms``.
* ``delivery``  — applying delivery reports (in any order) and the state shown beside each reply.
* ``routes``    — the delivery-report endpoints and the staff channel page.
"""
