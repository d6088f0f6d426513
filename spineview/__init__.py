"""spineview: a desktop viewer and classifier for lumbar spine MRI."""

__version__ = "0.1.0"
