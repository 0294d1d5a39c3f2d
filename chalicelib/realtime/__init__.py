"""Realtime service: websocket connections, and the push of project, task and note changes
to them."""
