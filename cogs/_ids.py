"""custom_id formats shared between cogs (a persistent button built by one cog, handled by another).

custom_ids are at most 100 characters; ids are decimal snowflakes (≤ 20 digits each).
"""

from __future__ import annotations

#: Handled by the recognition cog (a DynamicItem with a matching template); offered by the help
#: cog after a request is resolved, and anywhere else a one-tap thanks makes sense.
THANK = r"kinship:thank:(?P<receiver_id>[0-9]{1,20}):(?P<source>[a-z_]{1,16}):(?P<ref>[0-9]{1,20})"


def thank_custom_id(receiver_id: int, source: str, ref: int) -> str:
    """The custom_id of a one-tap thanks button for ``receiver_id`` (``source`` e.g. ``"help"``)."""
    return f"kinship:thank:{receiver_id}:{source}:{ref}"
