"""Outbound mail: render texts and forms, queue them, and deliver them by SMTP."""
