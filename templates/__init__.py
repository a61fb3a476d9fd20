"""Jinja2 templates of every text a person reads, in Simplified Chinese."""
