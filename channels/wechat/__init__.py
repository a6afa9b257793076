"""The WeChat Official Account (微信公众号) adapter: signed (and, in safe mode, AES-encrypted) XML in,
``Intake`` out; passive replies and the JSON bodies of the customer-service and template APIs out.
Pure: no database, no network (``gateway.wechat`` does both)."""
