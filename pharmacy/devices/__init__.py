"""Devices at the bench: balances (``balance``) and their simulator for tests and demos (``simulator``)."""
