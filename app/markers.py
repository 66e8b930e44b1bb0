"""Marking texts for translation where Flask must not be imported (models, services, workers).

`N_("text")` only marks a constant for extraction (`make translations`); the text stays English
and is translated where it is shown (`gettext(text)` looks the English up; an unknown text comes
back unchanged, so free text such as a reviewer's reason passes through).

`M_("text with %(name)s", name=value)` is for a message with values: it *is* the English string
(so the JSON API and logs see plain English), and it also carries its msgid and values, so a
page can translate the template and fill the values in afterwards (`app.i18n.translate`).
"""

from __future__ import annotations

from collections.abc import Mapping


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark `message` for extraction; returns it unchanged."""
    return message


class Message(str):
    """An English message that remembers its translation template and values."""

    msgid: str
    params: Mapping[str, object]

    def __new__(
        cls, msgid: str, params: Mapping[str, object] | None = None, text: str | None = None
    ) -> Message:
        """The English text is the template filled with `params` (printf-style, by name)."""
        values = dict(params or {})
        if text is None:
            text = msgid % values if values else msgid
        made = super().__new__(cls, text)
        made.msgid = msgid
        made.params = values
        return made

    def lower(self) -> Message:
        """The English text in lower case, mid-sentence; the translation is unchanged."""
        return Message(self.msgid, self.params, str(self).lower())

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling (Celery, caches) keeps the template, values and text.
        return (Message, (self.msgid, dict(self.params), str(self)))


def M_(msgid: str, **params: object) -> Message:  # noqa: N802
    """A message with named values, e.g. `M_("At most %(n)s characters.", n=100)`.

    A value that is itself a `Message` (e.g. `what=M_("first name")`) is translated too when
    shown; other values (names, numbers, codes) are shown as they are.
    """
    return Message(msgid, params)
