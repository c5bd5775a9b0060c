"""Bucket I: extract -> stage -> map -> resolve -> validate -> diff -> load -> record."""
