"""Streamlit dashboard: layout only; data comes through warehouse.queries."""
