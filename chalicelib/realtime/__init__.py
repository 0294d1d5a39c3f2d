"""Realtime service: websocket connections, and the push of task and note changes to them."""
