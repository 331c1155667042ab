"""KPI ingestion: the export formats partners send, their validation, and their metric parts."""
