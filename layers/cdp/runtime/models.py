"""The base of our pydantic models: each builds its validator when it is first used, not when
its module is imported. A function imports the models of every route and message it knows, and
its cold start serves one of them (issue 16: cold starts near `import boto3`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    # (a subclass's own model_config is merged with this one: it stays deferred)
    model_config = ConfigDict(defer_build=True)
