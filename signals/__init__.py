"""Signals over many documents: complaint themes that keep their identity, spikes of
negative voices with their explanations, and the day alerts the dashboard marks. Apart
from per-document enrichment (`nlp.stages`); read from and written to the warehouse."""
