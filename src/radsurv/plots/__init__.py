"""Figures of the paper: each function writes one figure from plain data."""
