"""Running hcp for years: backup and restore, metrics, JSON logs and data retention."""
