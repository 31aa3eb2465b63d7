"""sovstack: ask an association what it needs, recommend free software, provision and wire it."""

__version__ = "0.1.0"
