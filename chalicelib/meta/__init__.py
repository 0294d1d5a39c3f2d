"""Public, unauthenticated meta routes."""
