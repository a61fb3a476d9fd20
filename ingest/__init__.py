"""Inbound mail: read mailboxes, parse each mail, and tell what kind it is."""
