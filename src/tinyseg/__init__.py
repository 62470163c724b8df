"""tinyseg: Classifier128 on Tiny ImageNet-200 and U-Nets for lunar rock segmentation."""

__version__ = "0.1.0"
