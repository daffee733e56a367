"""The person's rights and choices: consent per purpose, zero-party forms, the access export,
erasure and the suppression that keeps the erased out."""
