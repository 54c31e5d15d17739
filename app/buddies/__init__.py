"""The buddy programme: qualification, volunteer buddies, consent-based
matching, introductions, check-ins, silence and strain (issue 4)."""
