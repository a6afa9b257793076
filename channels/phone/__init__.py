"""The hotline channel, pure: caller numbers, the operator's call log, exchange call records (CDR)
and Twilio webhook payloads in; ``Intake`` objects, call records and TwiML out.

Nothing here touches the database or the network; ``gateway.phone`` stores, serves and sends.
"""
