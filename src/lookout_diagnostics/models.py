"""The project's pydantic base model.

Every handler imports much of the domain, and with it many of the project's models; pydantic builds a model's
validator and serialiser when its class is defined, unless `defer_build` is set, and then when the model is
first used. A cold start therefore builds only the models its invocation uses (docs/performance.md, "Cold start").
A union a handler validates is a TypeAdapter with the same configuration, DEFERRED: pydantic's `RootModel[T]` is a
class of its own, built when it is named.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

DEFERRED = ConfigDict(defer_build=True)


class Model(BaseModel):
    """A pydantic model built on first use. Subclasses add their own configuration to this one."""

    model_config = DEFERRED
