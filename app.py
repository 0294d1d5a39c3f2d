"""Tandem: the app, its router middleware, and one Blueprint per service. Nothing else."""

from chalice.app import Chalice

from chalicelib.core.http import make_router_middleware
from chalicelib.meta.api import bp as meta
from chalicelib.notes.api import bp as notes
from chalicelib.projects.api import bp as projects
from chalicelib.tasks.api import bp as tasks

app = Chalice(app_name="tandem")
app.register_middleware(make_router_middleware(authenticate=None), "http")
app.register_blueprint(meta)
app.register_blueprint(projects)
app.register_blueprint(tasks)
app.register_blueprint(notes)
