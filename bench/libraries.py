"""The floor of a cold start (`bench.coldstart`): what an HTTP function imports before any code
of ours runs, set up as a handler sets it up. botocore makes the clients, Powertools logs,
counts, traces (patching botocore, when traced) and routes the requests, pydantic validates
them. Imported as `functions/` imports a handler: with the garbage collector off meanwhile."""

import gc

gc.disable()

import botocore.session  # noqa: E402 (after the collector is off, as in functions/)
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

from cdp.runtime.observability import end_of_init, powertools  # noqa: E402

# Made, not only imported: Powertools' Tracer patches botocore when it is created.
logger, tracer, metrics = powertools("floor")
app = APIGatewayHttpResolver()
session = botocore.session.get_session()


class Settings(BaseModel):
    """A model, as every function defines some: pydantic loads most of itself for the first."""

    table: str = Field(min_length=1)


end_of_init()
