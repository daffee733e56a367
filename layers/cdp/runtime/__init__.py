"""What every function stands on: its settings, the tables, typed errors and the HTTP edge
that turns them into answers, Powertools observability, time as text, the stored-JSON codec."""
