"""Test suite of radsurv (a package so that test helpers are imported by name, without sys.path changes)."""
