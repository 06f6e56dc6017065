"""Pictures of the messages, taken with SimCord's preview and a headless Chromium.

SimCord's ``screenshot`` extra renders a message the way Discord's client lays it out and
captures it with Playwright. Its capture always launches Playwright's own downloaded browser;
to use a Chromium that is already on the machine (Debian's ``chromium``, Google Chrome) we
launch that one ourselves and hand it to the preview's capture. Nothing is ever downloaded.
Without Playwright or a browser the demo still writes the transcript, and says why there are
no pictures in one line.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
WIDTH = 820
CHANNEL_HEIGHT = 620  # "channel" pictures show this much of the history above the target
MESSAGE_HEIGHT = 900  # "message" pictures are cropped to the message


def find_browser() -> str | None:
    """A Chromium or Chrome on ``PATH``."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class Camera:
    """Takes pictures of what one member sees, one preview per picture."""

    def __init__(self, env: Any, folder: Path, browser: str | None = None) -> None:
        self.env = env
        self.folder = folder
        self.browser_path = browser
        self._browser_missing = browser is not None and not Path(browser).exists()
        self.taken: list[Path] = []
        self.failed: list[str] = []
        self._playwright: Any = None
        self._browser: Any = None
        self._policies: list[tuple[dict[str, Any], Any]] = []

    async def start(self) -> str | None:
        """Launch the browser. Returns why there will be no pictures, or ``None`` when ready."""
        try:
            from playwright.async_api import async_playwright
            from simcord.preview import _require_preview_runtime

            _require_preview_runtime()
        except Exception:  # ImportError, or SimCord's SetupError naming the missing package
            return 'SimCord\'s screenshot extra is not installed (pip install -e ".[demo]")'
        path = self.browser_path or find_browser()
        if self._browser_missing:
            return f"there is no browser at {self.browser_path}"
        self._playwright = await async_playwright().start()
        try:
            # Without a path this only finds a browser Playwright installed earlier; it never downloads one.
            self._browser = await self._playwright.chromium.launch(**({"executable_path": path} if path else {}))
        except Exception as error:
            await self.close()
            log.debug("no browser", exc_info=error)
            if path:
                return f"the browser at {path} did not start ({str(error).splitlines()[0][:120]})"
            return "no Chromium or Chrome was found (install one, e.g. `apt install chromium`, or pass --browser PATH)"
        self._show_mentions_in_embeds()
        return None

    async def shoot(self, name: str, channel: Any, viewer: Any, target: Any, layout: str) -> None:
        """A picture of ``target`` (a message or an interaction's reply) as ``viewer`` sees it in ``channel``."""
        if self._browser is None:
            return
        path = self.folder / f"{name}.png"
        height = CHANNEL_HEIGHT if layout == "channel" else MESSAGE_HEIGHT
        try:
            async with self.env.preview(
                channel, viewers=[viewer], layout=layout, display="fixed", width=WIDTH, height=height
            ) as preview:
                manager = preview._capture_manager
                manager._browser = self._browser  # our browser, not one Playwright would have to download
                try:
                    # A channel picture: the viewport up to the latest message; a message picture: that message only.
                    await preview.screenshot(
                        path,
                        viewer=viewer,
                        target=None if layout == "channel" else target,
                        mode="viewport" if layout == "channel" else "surface",
                        allow_incomplete=True,
                    )
                finally:
                    manager._browser = None  # closing the preview must not close the shared browser
        except Exception as error:
            self.failed.append(f"{name}: {error}")
            log.warning("could not take the picture %s: %s", name, error)
            return
        self.taken.append(path)

    async def close(self) -> None:
        """Close the browser and undo the rendering tweak."""
        for policy, before in self._policies:
            policy["mentions"] = before
        self._policies.clear()
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None

    def _show_mentions_in_embeds(self) -> None:
        """Discord shows ``<@id>``/``<#id>`` in embed descriptions and field values as names (without
        pinging); SimCord 3.2.1's preview leaves them raw there. Render them as Discord does."""
        try:
            from simcord.preview import _markdown

            policies = _markdown._FIELD_POLICIES
        except (ImportError, AttributeError):
            return
        for key in ("embed_description", "embed_field_value"):
            policy = policies.get(key)
            if isinstance(policy, dict) and "mentions" in policy:
                self._policies.append((policy, policy["mentions"]))
                policy["mentions"] = True
