"""One profile per person: identities and how they resolve, traits with provenance, consent per
purpose, computed traits, the profile builder's batch, unmerges, timelines, and the Profile
API's wire models."""
