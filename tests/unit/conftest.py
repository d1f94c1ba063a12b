"""Hypothesis profiles for the property tests.

`ci` (the default) is deterministic: the same examples on every run and machine (derandomize), no
example database written into the checkout, no deadline (a shared CI machine's timing varies, and the
first example pays for importing the native parsers). `explore` searches with fresh random examples,
many more of them: `HYPOTHESIS_PROFILE=explore .venv/bin/pytest tests/unit/test_diagnostics_properties.py`.
A failure prints the shrunk example and a blob for `@reproduce_failure`.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=100, print_blob=True)
settings.register_profile("explore", database=None, deadline=None, max_examples=2000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
