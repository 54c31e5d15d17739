"""Development only: read what the dev mail catcher received."""
