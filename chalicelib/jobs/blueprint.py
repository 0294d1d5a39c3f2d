"""The Jobs service as the app registers it: its route and its manager."""

from chalicelib.core.blueprints import ServiceBlueprint

from . import routes, triggers

bp = ServiceBlueprint(__name__, routes.bp, triggers.bp)
