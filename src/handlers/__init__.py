"""The Lambda functions' entry points: one thin module per function, over the use cases.

The project's AWS adapters' client module, and with it boto3, are imported here, before anything else a
handler imports. With boto3 imported later, where the adapters import it (after Powertools, pydantic and the
domain's modules), the handlers' imports measured 7 to 20 ms longer in the latest run (2 to 41 ms in an
earlier one), unevenly from handler to handler and for reasons inside CPython we have not pinned down.
`make bench-coldstart COLDSTART_ARGS=--order-check` measures both orders (docs/performance.md, "Cold start").
Every invocation calls AWS, so nothing is imported that would not be.
"""

from lookout_diagnostics.aws import clients  # noqa: F401
