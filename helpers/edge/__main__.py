"""``python -m helpers.edge --push URL``: the edge node as a program of its own."""
from helpers.edge.cli import main

main()
