"""What runs on its own: the sampler loop and its supervisor, pull sources, alerting and mail, long jobs.

May import core and storage; never web, cli or edge (the pages and commands start it, not the other way).
"""
