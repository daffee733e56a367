"""Sharing what changed about a person with other systems: the events the publisher emits, and
where a webhook may point."""
