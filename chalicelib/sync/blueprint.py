"""The Sync service as the app registers it: its routes and its trigger."""

from chalicelib.core.blueprints import ServiceBlueprint

from . import account, routes, triggers

bp = ServiceBlueprint(__name__, routes.bp, triggers.bp, account.bp)
