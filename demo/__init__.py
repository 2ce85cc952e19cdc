"""Bundled demo sources: real Chinese customer text served over HTTP on localhost."""
