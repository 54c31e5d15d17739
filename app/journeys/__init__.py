"""The sequence engine: timed journeys of emails, advanced by `tick`."""
