"""Sensitivity analyses of the development (stage ``06_sensitivity``): the permutation
null of the whole signature development, and the cut-point check.

- :func:`permutation_null`, :func:`permutation_summary`: the test-set C of signatures
  developed on permuted training outcomes, and the observed C's permutation p.
- :func:`cutpoint_comparison`, :func:`shrinkage`: the X-tile cut against the median,
  tertiles and its cross-validated version.
"""

from .cutpoints import cross_validated_groups, cutpoint_comparison, shrinkage
from .permutation import permutation_null, permutation_p, permutation_summary

__all__ = ["cross_validated_groups", "cutpoint_comparison", "permutation_null", "permutation_p",
           "permutation_summary", "shrinkage"]
