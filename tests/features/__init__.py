"""Feature tests; shared synthetic images in ``_feature_synthetic``."""
