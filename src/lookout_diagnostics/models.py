"""The project's pydantic base model.

Every handler imports most of the domain, and with it most of the project's models; pydantic builds a model's
validator and serialiser when its class is defined, unless `defer_build` is set, and then when the model is
first used. A cold start therefore builds only the models its invocation uses (docs/performance.md, "Cold start").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A pydantic model built on first use. Subclasses add their own configuration to this one."""

    model_config = ConfigDict(defer_build=True)
