"""Connectors: what each tool's API needs to hear about a person, and how to read its answer.

A connector is pure: it turns deliveries (`cdp.sharing.connectors.base.Delivery`) into the
requests the vendor's API reference describes, and the vendor's answer into one outcome per
delivery. The deliverer (`functions/destinations`) sends the requests and acts on the outcomes.
"""
