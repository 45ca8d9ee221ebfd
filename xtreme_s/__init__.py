"""xtreme-s: fine-tune and evaluate multilingual speech encoders on every XTREME-S task."""

__version__ = "0.1.0"
