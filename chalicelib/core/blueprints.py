"""Blueprints: a service's several as one, and one whose websocket handlers work in Lambda.

Chalice names a trigger's Lambda handler after the module of the Blueprint it is declared
on (`<module>.<function>`), so routes.py and triggers.py each have their own Blueprint, and
`ServiceBlueprint` registers a service's as one: app.py has one register_blueprint line
per service.

WebsocketBlueprint:

Chalice (1.34) wraps a handler when it is declared, and a plain Blueprint has no
`websocket_api` at that moment, so its `on_ws_*` handlers stay bare functions: Lambda would
call `connect(event, context)` on a function that takes one WebsocketEvent, and the
endpoint for sending would never be configured. This Blueprint brings its own
WebsocketAPI, so its handlers are wrapped exactly as the app's own would be; when it is
registered, that WebsocketAPI becomes the app's `app.websocket_api` (the object the wrapped
handlers configure), and the app's websocket middleware is attached as for other events.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Chalice, WebsocketAPI, WebsocketEventSourceHandler

WEBSOCKET_HANDLER_TYPES = frozenset({"on_ws_connect", "on_ws_message", "on_ws_disconnect"})


class WebsocketBlueprint(Blueprint):
    def __init__(self, import_name: str) -> None:
        super().__init__(import_name)
        self.websocket_api: WebsocketAPI = WebsocketAPI()

    def register(self, app: Chalice, options: dict[str, Any]) -> None:
        if app.websocket_handlers:
            raise ValueError("the app has websocket handlers already; it can have one set")
        app.websocket_api = self.websocket_api
        super().register(app, options)

    def _register_handler(
        self,
        handler_type: str,
        name: str,
        user_handler: Any,
        wrapped_handler: Any,
        kwargs: dict[str, Any],
        options: dict[Any, Any] | None = None,
    ) -> None:
        if handler_type in WEBSOCKET_HANDLER_TYPES:
            assert isinstance(wrapped_handler, WebsocketEventSourceHandler)

            def attach_middleware(app: Chalice, options: dict[Any, Any]) -> None:
                wrapped_handler.middleware_handlers = app._get_middleware_handlers("websocket")

            self._deferred_registrations.append(attach_middleware)
        super()._register_handler(
            handler_type, name, user_handler, wrapped_handler, kwargs, options
        )


class ServiceBlueprint(Blueprint):
    """A service's Blueprints (its routes', its triggers'), registered together."""

    def __init__(self, import_name: str, *parts: Blueprint) -> None:
        super().__init__(import_name)
        self.parts = parts

    def register(self, app: Chalice, options: dict[str, Any]) -> None:
        super().register(app, options)
        for part in self.parts:
            part.register(app, options)
