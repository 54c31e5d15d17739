"""Graduation and surveys: who graduates when, invitations with one-click
answers, responses, and the results coordinators read (issue 6)."""
