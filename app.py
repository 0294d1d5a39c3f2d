"""Tandem: the app, its router middleware, and one Blueprint per service. Nothing else."""

from chalice.app import Chalice

from chalicelib.accounts.blueprint import bp as account
from chalicelib.core import chalice_local, local_auth, observability
from chalicelib.core.http import make_router_middleware
from chalicelib.core.transport import add_transport_routes
from chalicelib.jobs.blueprint import bp as jobs
from chalicelib.meta.routes import bp as meta
from chalicelib.notes.blueprint import bp as notes
from chalicelib.profiles.blueprint import bp as profiles
from chalicelib.projects.blueprint import bp as projects
from chalicelib.realtime.blueprint import bp as realtime
from chalicelib.sync.blueprint import bp as sync
from chalicelib.tasks.blueprint import bp as tasks

# Served by `chalice local`: only the local stage, verified against the running stack.
chalice_local.guard()
# Powertools' JSON handler is the one log handler; Chalice's own would print every line twice.
app = Chalice(app_name="tandem", configure_logs=False)
# The realtime service's websocket handlers (chalice package refuses them without this).
app.experimental_feature_flags.update(["WEBSOCKETS"])
# One X-Ray subsegment per invocation of any function, annotated with its correlation id
# (registered first: the outermost middleware, around the router's).
app.register_middleware(observability.tracing_middleware, "all")
# API Gateway's Cognito authorizer verifies tokens in dev/prod; the router checks them
# itself only when the stage is local (decided per request, see core.local_auth).
app.register_middleware(
    # The route table lets a method no route declares get its 405 (see core.http).
    make_router_middleware(authenticate=local_auth.authenticate_local_stage, routes=app.routes),
    "http",
)
app.register_blueprint(meta)
app.register_blueprint(projects)
app.register_blueprint(tasks)
app.register_blueprint(notes)
app.register_blueprint(realtime)
app.register_blueprint(profiles)
app.register_blueprint(sync)
app.register_blueprint(jobs)
app.register_blueprint(account)
# OPTIONS on every path and HEAD wherever GET is, answered through the router (core.transport).
add_transport_routes(app)
