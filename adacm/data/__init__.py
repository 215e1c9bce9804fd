"""Datasets, labeled/unlabeled splits and augmentations."""
