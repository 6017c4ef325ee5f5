"""Tests of radsurv.stats against R references (../shared/reference, copied to tests/data)."""
