"""Test support: the emulated stack, the fake Lookout for Equipment, the Step Functions harness,
the template's IAM roles enforced in moto, and the template readers. Used by the tests and the local run."""
