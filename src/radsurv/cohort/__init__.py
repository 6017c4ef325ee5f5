"""The cohort: the digital-twin simulator, the manifest contract and its input checks."""
