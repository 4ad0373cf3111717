"""The edge node, a program of its own: produce readings, spool them, push them exactly once.

Needs only core's line and formats parts: it must not import torch, the database (storage, sqlalchemy),
runtime, web or cli, so it runs on a small device.
"""
