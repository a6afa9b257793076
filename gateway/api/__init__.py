"""The inbound API for the hall's queue-calling system and online service platforms: HMAC-signed
JSON reporting finished 办件 and ready-made evaluations (一次一评 / 一事一评)."""
