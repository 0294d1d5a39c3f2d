"""The Account service as the app registers it: its routes (its workers run in the jobs'
manager)."""

from chalicelib.core.blueprints import ServiceBlueprint

from . import routes

bp = ServiceBlueprint(__name__, routes.bp)
