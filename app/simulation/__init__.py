"""`flask simulate`: the real programme run on generated people, in a database,
a Redis and an SMTP sink made for the run (never the live ones), with the
clock moved forward in steps. See `run.simulate` and `report.write`."""
