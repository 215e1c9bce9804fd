"""adacm: a reproducibility suite for Ada-CM (CVPR 2022) and the SSL methods it is compared with."""

__version__ = "0.1.0"
