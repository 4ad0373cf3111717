"""Pure logic: detectors, statistics, alert rules, the simulated line, evaluation, file formats, the LSTM.

Owns no I/O and no state beyond its objects. Must not import flask, sqlalchemy, helpers.config or any other
layer (storage, runtime, web, cli, edge): everything it needs comes in as arguments.
"""
