"""Keys pressed into a page at times the test sets, as a keyboard-wedge scanner or a person presses them.

The bedside decides "scanned" or "typed" from the pace of the key events' own times (SAFETY.md H7,
``pharmacy.js`` rule 6). Playwright's ``keyboard.type`` sends one key per round trip through its driver,
so on a loaded machine a scanner's keys could reach the page 50 ms apart and be read as typed. Chromium's
input protocol takes each key's time (``Input.dispatchKeyEvent`` with ``timestamp``): the pace the page
reads is the one written in the test, however busy the machine, and however late the keys arrive."""

from __future__ import annotations

import time

from pharmacy.domain.gs1 import GS

SCANNER_GAP_MS = 8  # a wedge scanner: a key every few milliseconds, then Enter
READY = "document.readyState === 'complete'"  # the deferred pharmacy.js has run: Ctrl+] is turned into GS


def press_keys(page, text: str, gap_ms: float, enter: bool = True) -> None:
    """``text`` (GS pressed as Ctrl+], as a scanner does) then Enter into the focused field, each key pressed
    ``gap_ms`` after the one before by the key events' own times, once the page's script has run."""
    page.wait_for_function(READY)
    keyboard = page.context.new_cdp_session(page)

    def press(at: float, key: str, text: str = "", **which) -> None:  # down at ``at``, up 2 ms later
        down = {"type": "keyDown", "key": key, "text": text} if text else {"type": "rawKeyDown", "key": key}
        keyboard.send("Input.dispatchKeyEvent", {**down, "timestamp": at, **which})
        keyboard.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "timestamp": at + 0.002, **which})

    keys: list[tuple[str, str, dict]] = []
    for index, part in enumerate(text.split(GS)):
        if index:
            keys.append(("]", "", {"code": "BracketRight", "windowsVirtualKeyCode": 221, "modifiers": 2}))  # Ctrl
        keys.extend((char, char, {}) for char in part)
    if enter:
        keys.append(("Enter", "\r", {"code": "Enter", "windowsVirtualKeyCode": 13}))
    pressed = time.time()
    for index, (key, typed, which) in enumerate(keys):
        press(pressed + index * gap_ms / 1000, key, typed, **which)
    keyboard.detach()


def scanner_types(page, raw: str, enter: bool = True) -> None:
    """What a keyboard-wedge scanner sends for ``raw`` into the focused field: its keys 8 ms apart, GS as Ctrl+]."""
    press_keys(page, raw, SCANNER_GAP_MS, enter=enter)
