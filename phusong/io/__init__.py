"""Readers and writers per layer and format; atomic writes (DESIGN §2)."""
