"""openamr: privacy-by-design automatic meter reading for apartment buildings."""

__version__ = "0.1.0"
