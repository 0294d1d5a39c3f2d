"""`tandem`: the operator's command line for a Tandem stack, local or deployed.

It lives outside `chalicelib/` so that `chalice package` never ships it in the Lambda
package; it reads the same declarations (core.registry) the deployment is made from, so
it knows every table, queue and topic by the name the code gives it.
"""

import sys
from pathlib import Path

# The installed `tandem` script runs from any directory; its checkout's packages
# (chalicelib, devstack, app) are found next to it, after anything already on the path.
_CHECKOUT = str(Path(__file__).resolve().parent.parent)
if _CHECKOUT not in sys.path:
    sys.path.append(_CHECKOUT)
