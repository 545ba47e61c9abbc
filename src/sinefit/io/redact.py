"""Secrets out of messages: a URI as sinefit prints it, with every userinfo and query value masked.

``http://user:pa/ss@host``, ``http://user:p@ss@host``, ``http://TOKEN@host`` and
``https://host/api?token=abc`` all carry a secret a log or a terminal must not show. A URI's
userinfo is taken to run to the *last* ``@`` before its query (a password holding ``/`` or
``@`` is thus masked whole; a path holding ``@`` is masked too: printing too little is the
safe side); every query value (and any fragment) is masked as well.
"""

from __future__ import annotations

import re

MASK = "***"
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*:)(?P<slashes>//)?(?P<rest>.*)$", re.S)
_URI_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")


def _query(query: str) -> str:
    return "&".join(
        (item.split("=", 1)[0] + "=" + MASK if "=" in item else MASK) if item else item for item in query.split("&")
    )


def uri(text: str) -> str:
    """``text`` (a URI, or a path) with every userinfo, query value and fragment masked."""
    m = _URI.match(text)
    if not m:
        return text
    rest = m["rest"]
    fragment = ""
    if "#" in rest:
        rest, frag = rest.split("#", 1)
        fragment = "#" + (MASK if frag else "")
    query = ""
    if "?" in rest:
        rest, q = rest.split("?", 1)
        query = "?" + _query(q)
    if m["slashes"] and "@" in rest:
        rest = MASK + rest[rest.rindex("@"):]
    return f"{m['scheme']}{m['slashes'] or ''}{rest}{query}{fragment}"


def secrets(text: str) -> list[str]:
    """The secret pieces of a URI: its userinfo (whole and split at ':'), query values, fragment."""
    m = _URI.match(text)
    if not m:
        return []
    rest, found = m["rest"], []
    if "#" in rest:
        rest, frag = rest.split("#", 1)
        found.append(frag)
    if "?" in rest:
        rest, q = rest.split("?", 1)
        found += [item.split("=", 1)[-1] for item in q.split("&")]
    if m["slashes"] and "@" in rest:
        userinfo = rest[: rest.rindex("@")]
        found += [userinfo, *userinfo.split(":")]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def in_text(message: str, *uris: str) -> str:
    """A message (an error from a library) with every URI in it masked, and the secrets of ``uris`` too."""
    message = _URI_IN_TEXT.sub(lambda m: uri(m.group(0)), message)
    for u in uris:
        for s in secrets(u):
            message = message.replace(s, MASK)
    return message
