"""Page chrome shared by every feature: the base templates and stylesheet, security headers and the
error page, date and countdown formatting, the staff navigation."""
