"""Sync service: the per-user change log, GET /sync (changes since a cursor) and POST /sync
(a batch of offline commands). Design: docs/sync.md."""
