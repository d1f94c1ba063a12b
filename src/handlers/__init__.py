"""The Lambda functions' entry points: one thin module per function, over the use cases.

boto3 is imported here, before anything else a handler imports. Imported later, where the project's AWS
adapters import it (after Powertools, pydantic and the domain's modules), the same import measured about
20 ms longer per handler, for reasons inside CPython we have not pinned down; `make bench-coldstart
COLDSTART_ARGS=--order-check` measures both orders (docs/performance.md, "Cold start"). Every invocation calls
AWS, so importing the SDK first costs nothing.
"""

import boto3  # noqa: F401
