"""posevideo: video of a specific person from speech or from poses."""

__version__ = "0.1.0"
