"""Segmentation tests; shared synthetic images in ``_segment_synth``."""
