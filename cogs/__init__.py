"""discord.py extensions, one per feature: Discord glue only (check → convert → service → render)."""
