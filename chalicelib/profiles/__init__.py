"""Profiles: the gatekeeper of personal data (GET/PUT /me), with its audit trail."""
