"""Seeded, reproducible demo data: realistic contact-center intervals in the ingest CSV format."""
