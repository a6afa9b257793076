"""The WeChat Official Account channel: the signed callback URL (``/wechat``), the access token
shared through the database, the customer-service and template senders, media downloads, and the
staff page ``/wechat/status``.  Off until ``HCP_WECHAT_TOKEN`` (inbound) and ``HCP_WECHAT_APP_ID``
+ ``HCP_WECHAT_APP_SECRET`` (outbound) are set."""
