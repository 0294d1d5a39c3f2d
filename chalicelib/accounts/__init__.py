"""Account: the caller's data export and account deletion, run as jobs (chalicelib.jobs)."""
