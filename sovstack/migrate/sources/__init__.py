"""Readers of what a source holds. Modules here that run on a server too are standard-library only."""
