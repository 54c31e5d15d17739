"""People, organisations, signup, magic links, preferences."""
