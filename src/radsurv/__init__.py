"""radsurv: automatic-segmentation-based multi-modal radiomics for disease-free survival.

The library behind the paper: every notebook stage calls into these modules.
"""

__version__ = "0.1.0"
