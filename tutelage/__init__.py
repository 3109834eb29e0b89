"""tutelage: serve LLM queries through a self-evolving school of models, on Temporal."""

__version__ = "0.1.0"
