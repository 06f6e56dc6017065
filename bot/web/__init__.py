"""The moderators' web dashboard (issue #15): aiohttp + Jinja2, served by ``python -m bot`` when
``DASHBOARD_PORT`` is set, or on its own with ``python -m bot.web``.

The dashboard is Discord glue like ``cogs/``: handlers check access, convert the form, make one
service call and render. The rules stay in :mod:`bot.services`. See ``bot/web/README.md`` for how
to add a page.
"""
