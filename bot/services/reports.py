"""Reverse reports: ``report`` from client to partner (being built)."""
