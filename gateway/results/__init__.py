"""Results: figures, public page and hall screen, reports, demo data and the upstream push."""
