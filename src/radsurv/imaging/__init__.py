"""Imaging: the digital twin's US and MRI simulators, real-image input and checks.

- :func:`simulate_us`, :func:`simulate_mri`: one simulated case with true and reader
  masks (:class:`SimulatedCase`).
- :func:`write_cohort_images`, :func:`write_devset`: the twin's image files.
- :func:`read_image`: NIfTI, NRRD, MetaImage and DICOM series.
- :func:`check_image_pair`: the input contract's image checks (:class:`ImageProblem`).
- :data:`DEFAULT_SCANNERS`, :data:`DEFAULT_PHENOTYPE`: default parameters.
"""

from ._common import SimulatedCase, dice
from .checks import ImageProblem, check_image_pair
from .io import ImageReadError, read_image
from .scanners import DEFAULT_PHENOTYPE, DEFAULT_SCANNERS, resolve_scanners, scanner_for
from .simulate_mri import simulate_mri
from .simulate_us import simulate_us
from .twin import write_cohort_images, write_devset

__all__ = [
    "DEFAULT_PHENOTYPE",
    "DEFAULT_SCANNERS",
    "ImageProblem",
    "ImageReadError",
    "SimulatedCase",
    "check_image_pair",
    "dice",
    "read_image",
    "resolve_scanners",
    "scanner_for",
    "simulate_mri",
    "simulate_us",
    "write_cohort_images",
    "write_devset",
]
