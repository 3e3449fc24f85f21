"""The shapes of the template data (notifications.templates.ru and .en hold the texts).

Every text is Jinja2 source, rendered in a sandbox with strict undefined variables:
`{{ doctor_name }}`, and the filters `when` (epoch seconds -> "25 December at 14:30" in
the recipient's time zone and language), `clock` (-> "14:30") and `money` (kopecks ->
"1 500 ₽" / "RUB 1,500"). E-mail bodies are written once, as paragraphs: the plain text
and the HTML part (autoescaped) are both made from them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PushText:
    title: str  # shown on the lock screen: short, nothing private
    body: str


@dataclass(frozen=True, slots=True)
class EmailText:
    subject: str
    paragraphs: tuple[str, ...]  # the body, without greeting and signature
    action: str  # the button's label (it leads to {{ url }})


@dataclass(frozen=True, slots=True)
class KindTexts:
    """One kind's texts in one language, for each channel it can go by (Web Push and FCM
    share `push`)."""

    push: PushText | None = None
    sms: str | None = None  # one line; starts with the brand
    email: EmailText | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    """What every e-mail of a language shares."""

    greeting: str  # Jinja source; may use {{ name }} (possibly empty)
    signature: str
    unsubscribe: str  # the link's text (RFC 8058 one-click; kinds that can be turned off)
    why: str  # why the person receives it
    months: tuple[str, ...]  # for `when`: genitive in Russian
    at: str  # "в" / "at"
