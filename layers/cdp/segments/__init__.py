"""Segments: the condition language, the definitions in force, backfills when a definition
changes, and the due times at which time alone changes a membership."""
