"""Concerns every Tandem service shares: settings, identity, errors, cursors, schemas, logging."""
