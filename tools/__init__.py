"""Tools for the repository itself, not deployed: `make screenshots` (screenshots.py)."""
