"""Support circles: monthly peer circles that live in their members' own
calendars (iTIP invites, updates, cancellations, RSVPs by calendar reply),
with reminders, facilitator prep and a personal calendar feed (issue 5)."""
