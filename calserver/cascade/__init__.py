"""The cascade: reach a trigger's contact through other channels when the calendar cannot.

- ``registry``: the channels this server may use, read from a TOML file (credentials stay
  out of the database and out of API answers).
- ``policy``: a workspace's (or one trigger's) ordered steps, checked.
- ``plan``: pure decisions — what a trigger's next step is, now.
- ``worker``: the loop that claims due triggers, sends, and records what happened.
Storage queries live in ``storage/cascade.py``; the report in ``storage/cascade_report.py``.
"""
