"""What comes in: Tracking API messages (Segment's and RudderStack's clients), read, checked
and turned into events or refusals; inbound webhooks, bulk imports, identity verification, and
the tracker scripts the collector serves."""
