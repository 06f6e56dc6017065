"""``python -m bot demo``: try Kinship offline, without a Discord account (see ``bot/demo/story.py``)."""
