"""nethelpers: analysis environment for dual-tracer PET studies in NET and TIO."""

__version__ = "0.1.0"
