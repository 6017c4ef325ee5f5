"""Sensitivity analyses of the development (stage ``06_sensitivity``).

- :func:`one_permutation`, :class:`PermutationNull`: the multi-modal signature developed on
  permuted training outcomes (one by hand, then B of them), its test C against the observed.
- :func:`cutpoint_check` (:class:`CutpointCheck`): the X-tile cut against the median,
  tertiles and its cross-validated version, and the shrinkage of its log hazard ratio.
- :func:`combat_harmonise`, :func:`compare_centre_effects`, :class:`Harmonisation`:
  reference-batch ComBat, the centre effects before and after, the external C with and without.
- :func:`extract_region_variants`, :class:`MaskSources`, :class:`RingWidths`: the development
  repeated on other masks and rings of other widths.
- :class:`OutcomeDraws`, :func:`develop_draw`: the twin's outcomes drawn again and developed
  as the build's, and the build's own C-indices among them.
- :func:`measure_scanner_agreement`, :class:`ScannerAgreement`: the twin's travelling lesions
  scanned twice on every centre's scanner; the features' repeatability and their agreement
  across scanners, beside published studies.
"""

from .cutpoints import CutpointCheck, cross_validated_groups, cutpoint_check, cutpoint_comparison, shrinkage
from .harmonisation import (CentreEffects, ComBatResult, Harmonisation, check_redeveloped, combat_harmonise,
                            compare_centre_effects, external_discrimination, harmonisation_batches)
from .permutation import (Permutation, PermutationNull, observed_score, observed_test_c, one_permutation, permutation_null,
                          permutation_once, permutation_p, permutation_summary)
from .outcome_draws import OutcomeDraws, develop_draw
from .scanner_agreement import ScannerAgreement, measure_scanner_agreement, scanner_agreement
from .reported import REPORTED_SIGNATURES, reported_label, reported_scores
from .variants import MaskSources, RingWidths, VariantExtraction, develop_variant, extract_region_variants

__all__ = ["REPORTED_SIGNATURES", "CentreEffects", "ComBatResult", "CutpointCheck", "Harmonisation", "MaskSources",
           "OutcomeDraws", "Permutation", "PermutationNull", "RingWidths", "ScannerAgreement", "VariantExtraction", "check_redeveloped",
           "combat_harmonise", "compare_centre_effects", "cross_validated_groups", "cutpoint_check",
           "cutpoint_comparison", "develop_draw", "develop_variant", "external_discrimination", "extract_region_variants",
           "harmonisation_batches", "measure_scanner_agreement", "observed_score", "observed_test_c", "one_permutation", "permutation_null", "permutation_once",
           "permutation_p", "permutation_summary", "reported_label", "reported_scores", "scanner_agreement", "shrinkage"]
