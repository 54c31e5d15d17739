"""The email format layer: pure functions from values to MIME/.ics bytes and back.

Imports nothing from `app`, no database, no request (DESIGN.md layout).
"""
