"""Templates: every kind's message in Russian and English for each channel of its plan,
rendered with Jinja2 in a sandbox (strict undefined variables; HTML autoescaped). Pure:
the texts are Python data (notifications.templates.ru and .en), compiled on first use.

Medical details cannot reach a message: a notification's variables are checked against
its kind's declared list (rules.check_variables refuses `symptoms`, `notes`, ...), and
each part is rendered with only the variables its allow-list names (ALLOWED_VARIABLES),
so SMS, push and e-mail subjects never see free text meant for an e-mail body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from jinja2 import StrictUndefined, Template, UndefinedError, meta, pass_context
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from notifications.channels import Channel, Rendered
from notifications.model import (
    KIND_VARIABLES,
    LOCALES,
    Kind,
    MissingTemplateError,
    MissingVariableError,
    Notification,
    TemplateError,
    kind_variables,
)
from notifications.rules import (
    MAX_SMS_SEGMENTS,
    POLICIES,
    URL_VARIABLES,
    check_push_payload,
    check_sms,
    check_variables,
    plan_channels,
    push_payload,
    zone,
)
from notifications.templates import en, ru
from notifications.templates.texts import EmailText, KindTexts, Layout, PushText

__all__ = [
    "ALLOWED_VARIABLES",
    "CHANNEL_PARTS",
    "Content",
    "EmailText",
    "KindTexts",
    "Layout",
    "Part",
    "PushText",
    "render",
    "render_parts",
    "template_problems",
    "template_source",
]


class Part(StrEnum):
    PUSH_TITLE = "push_title"
    PUSH_BODY = "push_body"
    SMS_TEXT = "sms_text"
    EMAIL_SUBJECT = "email_subject"
    EMAIL_TEXT = "email_text"
    EMAIL_HTML = "email_html"


CHANNEL_PARTS: dict[Channel, tuple[Part, ...]] = {
    Channel.WEBPUSH: (Part.PUSH_TITLE, Part.PUSH_BODY),
    Channel.FCM: (Part.PUSH_TITLE, Part.PUSH_BODY),
    Channel.SMS: (Part.SMS_TEXT,),
    Channel.EMAIL: (Part.EMAIL_SUBJECT, Part.EMAIL_TEXT, Part.EMAIL_HTML),
}

TEXTS: dict[str, dict[Kind, KindTexts]] = {"ru": ru.TEXTS, "en": en.TEXTS}
LAYOUTS: dict[str, Layout] = {"ru": ru.LAYOUT, "en": en.LAYOUT}

# The allow-lists. Every variable any kind declares (never a medical one: model.
# MEDICAL_VARIABLES are refused before this), minus, for the parts shown on a lock screen
# or in an inbox's list (push titles, e-mail subjects), addresses, links and codes, and,
# for everything but an e-mail's body, free text a person wrote (a rejection's reason).
ALL_VARIABLES: frozenset[str] = frozenset().union(*(kind_variables(k) for k in Kind))
EMAIL_BODY_ONLY: frozenset[str] = frozenset({"reason"})
NOT_IN_HEADLINES: frozenset[str] = EMAIL_BODY_ONLY | {"address", "url", "receipt_url", "code"}
ALLOWED_VARIABLES: dict[Part, frozenset[str]] = {
    Part.PUSH_TITLE: ALL_VARIABLES - NOT_IN_HEADLINES,
    Part.PUSH_BODY: ALL_VARIABLES - EMAIL_BODY_ONLY,
    Part.SMS_TEXT: ALL_VARIABLES - EMAIL_BODY_ONLY,
    Part.EMAIL_SUBJECT: ALL_VARIABLES - NOT_IN_HEADLINES,
    Part.EMAIL_TEXT: ALL_VARIABLES,
    Part.EMAIL_HTML: ALL_VARIABLES,
}
RENDERER_VARIABLES: frozenset[str] = frozenset({"locale", "tz", "unsubscribe_url"})
SHORT_PARTS = frozenset({Part.PUSH_TITLE, Part.PUSH_BODY, Part.SMS_TEXT, Part.EMAIL_SUBJECT})
SHORT_VALUE_CHARS = 60  # free text in a short part is cut to this many characters


# ---------------------------------------------------------------------------- filters


def _local(context: Context, value: object) -> datetime:
    try:
        at_s = float(str(value))
        return datetime.fromtimestamp(at_s, zone(str(context.get("tz", "UTC"))))
    except (ValueError, OverflowError, OSError):
        raise TemplateError(f"not epoch seconds: {value!r}") from None


@pass_context
def _when(context: Context, value: object) -> str:
    """Epoch seconds as "25 December at 14:30" / "25 декабря в 14:30", in the zone."""
    local = _local(context, value)
    layout = LAYOUTS[str(context.get("locale", "ru"))]
    return f"{local.day} {layout.months[local.month - 1]} {layout.at} {local:%H:%M}"


@pass_context
def _clock(context: Context, value: object) -> str:
    return f"{_local(context, value):%H:%M}"


@pass_context
def _money(context: Context, value: object) -> str:
    """Kopecks as "1 500 ₽" / "1 500,50 ₽" (Russian) or "RUB 1,500" / "RUB 1,500.50"."""
    try:
        kopecks = int(str(value))
    except ValueError:
        raise TemplateError(f"not a number of kopecks: {value!r}") from None
    sign = "-" if kopecks < 0 else ""
    roubles, rest = divmod(abs(kopecks), 100)
    if context.get("locale") == "en":
        cents = f".{rest:02d}" if rest else ""
        return f"{sign}RUB {roubles:,}{cents}"
    grouped = f"{roubles:,}".replace(",", "\u00a0")
    cents = f",{rest:02d}" if rest else ""
    return f"{sign}{grouped}{cents}\u00a0₽"


def _environment(*, html: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["when"] = _when
    env.filters["clock"] = _clock
    env.filters["money"] = _money
    return env


_TEXT_ENV = _environment(html=False)
_HTML_ENV = _environment(html=True)


# ---------------------------------------------------------------------------- sources


def template_source(locale: str, kind: Kind, part: Part) -> str:
    """The Jinja2 source of one part, or MissingTemplateError."""
    texts = TEXTS.get(locale, {}).get(kind)
    if texts is None:
        raise MissingTemplateError(f"no {locale!r} templates for {kind.value}")
    layout = LAYOUTS[locale]
    if part in (Part.PUSH_TITLE, Part.PUSH_BODY):
        if texts.push is None:
            raise MissingTemplateError(f"no {locale} push template for {kind.value}")
        return texts.push.title if part is Part.PUSH_TITLE else texts.push.body
    if part is Part.SMS_TEXT:
        if texts.sms is None:
            raise MissingTemplateError(f"no {locale} SMS template for {kind.value}")
        return texts.sms
    if texts.email is None:
        raise MissingTemplateError(f"no {locale} e-mail template for {kind.value}")
    if part is Part.EMAIL_SUBJECT:
        return texts.email.subject
    if part is Part.EMAIL_TEXT:
        return _email_text(texts.email, layout)
    return _email_html(texts.email, layout, locale)


def _email_text(email: EmailText, layout: Layout) -> str:
    body = "\n\n".join(email.paragraphs)
    return (
        f"{layout.greeting}\n\n{body}\n\n{email.action}: {{{{ url }}}}\n\n"
        f"-- \n{layout.signature}\n{layout.why}\n"
        f"{{% if unsubscribe_url %}}{layout.unsubscribe}: {{{{ unsubscribe_url }}}}\n{{% endif %}}"
    )


_BUTTON_STYLE = (
    "display:inline-block;padding:12px 20px;background:#0b6bcb;color:#ffffff;"
    "text-decoration:none;border-radius:6px;font-weight:bold"
)


def _email_html(email: EmailText, layout: Layout, locale: str) -> str:
    paragraphs = "\n".join(f'<p style="margin:0 0 16px">{p}</p>' for p in email.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{email.subject}</title>
</head>
<body style="margin:0;padding:24px;background:#f4f6f8;font-family:Arial,Helvetica,sans-serif;color:#1d2733;font-size:16px;line-height:1.5">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px">
<p style="margin:0 0 16px">{layout.greeting}</p>
{paragraphs}
<p style="margin:24px 0"><a href="{{{{ url }}}}" style="{_BUTTON_STYLE}">{email.action}</a></p>
<p style="margin:24px 0 0;color:#5b6775;font-size:13px">{layout.signature}<br>{layout.why}</p>
{{% if unsubscribe_url %}}
<p style="margin:8px 0 0;font-size:13px"><a href="{{{{ unsubscribe_url }}}}" style="color:#5b6775">{layout.unsubscribe}</a></p>
{{% endif %}}
</div>
</body>
</html>
"""


@lru_cache(maxsize=1_024)
def _compiled(locale: str, kind: Kind, part: Part) -> Template:
    env = _HTML_ENV if part is Part.EMAIL_HTML else _TEXT_ENV
    try:
        return env.from_string(template_source(locale, kind, part))
    except JinjaTemplateError as exc:
        raise TemplateError(f"{locale} {kind.value} {part.value}: {exc}") from None


# ---------------------------------------------------------------------------- rendering


@dataclass(frozen=True, slots=True)
class Content:
    """One channel's rendered parts: push (subject = title, text = body), SMS (text), or
    e-mail (subject, text, html)."""

    text: str
    subject: str | None = None
    html: str | None = None


_BREAKS = re.compile(r"[ \t\r\n\v\f\x1c-\x1f\x85\u2028\u2029]+")


def _one_line(text: str) -> str:
    """Runs of spaces and line breaks as one space (non-breaking spaces stay)."""
    return _BREAKS.sub(" ", text).strip()


def _short(value: str) -> str:
    value = _one_line(value)
    if len(value) <= SHORT_VALUE_CHARS:
        return value
    return value[: SHORT_VALUE_CHARS - 1].rstrip() + "…"


def _context(part: Part, variables: Mapping[str, str]) -> dict[str, str]:
    allowed = ALLOWED_VARIABLES[part]
    context = {k: v for k, v in variables.items() if k in allowed}
    if part in SHORT_PARTS:
        context = {k: v if k in URL_VARIABLES else _short(v) for k, v in context.items()}
    return context


def _render_part(
    locale: str,
    kind: Kind,
    part: Part,
    variables: Mapping[str, str],
    *,
    tz: str,
    unsubscribe_url: str | None,
) -> str:
    context: dict[str, object] = dict(_context(part, variables))
    context.update(locale=locale, tz=tz)
    if part in (Part.EMAIL_TEXT, Part.EMAIL_HTML):
        context["unsubscribe_url"] = unsubscribe_url
    try:
        out = _compiled(locale, kind, part).render(context)
    except UndefinedError as exc:
        raise MissingVariableError(f"{locale} {kind.value} {part.value}: {exc}") from None
    except TemplateError:
        raise
    except JinjaTemplateError as exc:  # the sandbox refused something
        raise TemplateError(f"{locale} {kind.value} {part.value}: {exc}") from None
    if part in SHORT_PARTS:
        out = _one_line(out)  # no header injection in a subject
    return out


def render_parts(
    kind: Kind,
    channel: Channel,
    locale: str,
    variables: Mapping[str, str],
    *,
    tz: str = "Europe/Moscow",
    unsubscribe_url: str | None = None,
) -> Content:
    """The kind's message for the channel in the language. The variables must be exactly
    the kind's (rules.check_variables: medical details, unknown or missing ones raise);
    each part sees only those its allow-list names. Raises TemplateError (missing
    template, missing variable) or InvalidPreferencesError (unknown time zone)."""
    if locale not in LOCALES:
        raise MissingTemplateError(f"no templates in {locale!r}")
    check_variables(kind, variables)
    tz = zone(tz).key
    parts = {
        part: _render_part(locale, kind, part, variables, tz=tz, unsubscribe_url=unsubscribe_url)
        for part in CHANNEL_PARTS[channel]
    }
    if channel is Channel.SMS:
        return Content(text=parts[Part.SMS_TEXT])
    if channel is Channel.EMAIL:
        return Content(
            subject=parts[Part.EMAIL_SUBJECT],
            text=parts[Part.EMAIL_TEXT],
            html=parts[Part.EMAIL_HTML],
        )
    return Content(subject=parts[Part.PUSH_TITLE], text=parts[Part.PUSH_BODY])


def render(
    row: Notification,
    *,
    now_s: float,
    unsubscribe_url: str | None = None,
    max_sms_segments: int = MAX_SMS_SEGMENTS,
) -> Rendered:
    """The row as a channel adapter takes it. E-mail of kinds a person may turn off
    carries the unsubscribe link given (RFC 8058); push carries the kind and the link in
    its data, high urgency for urgent rows, and lives until the row expires. Raises
    TemplateError, or PayloadTooLargeError (an SMS over max_sms_segments, a push payload
    over the limit): the worker sends the row to the dead letter with the reason."""
    email_off_allowed = Channel.EMAIL not in POLICIES[row.kind].mandatory
    unsubscribe = unsubscribe_url if row.channel is Channel.EMAIL and email_off_allowed else None
    content = render_parts(
        row.kind,
        row.channel,
        row.locale,
        row.variables,
        tz=row.tz,
        unsubscribe_url=unsubscribe,
    )
    if row.channel is Channel.SMS:
        check_sms(content.text, max_sms_segments)
        return Rendered(
            notification_id=row.notification_id,
            idempotency_key=row.idempotency_key,
            channel=row.channel,
            to=row.to,
            text=content.text,
        )
    if row.channel is Channel.EMAIL:
        return Rendered(
            notification_id=row.notification_id,
            idempotency_key=row.idempotency_key,
            channel=row.channel,
            to=row.to,
            text=content.text,
            subject=content.subject,
            html=content.html,
            unsubscribe_url=unsubscribe,
        )
    message = Rendered(
        notification_id=row.notification_id,
        idempotency_key=row.idempotency_key,
        channel=row.channel,
        to=row.to,
        text=content.text,
        subject=content.subject,
        data={"kind": row.kind.value, "url": row.variables.get("url", "")},
        ttl_s=max(0, int(row.expires_s - now_s)),
        urgency="high" if row.urgent else "normal",
    )
    check_push_payload(push_payload(message))
    return message


# ---------------------------------------------------------------------------- checks


def template_problems() -> list[str]:
    """Everything wrong with the template data (the tests require none): a kind without
    a template in a language for a channel it can go by; a template that does not
    compile, or uses a variable its kind does not declare or its part may not see; a
    variable a kind declares that none of its templates in a language uses."""
    problems: list[str] = []
    for locale in LOCALES:
        for kind in Kind:
            used: set[str] = set()
            for channel in sorted(plan_channels(kind)):
                for part in CHANNEL_PARTS[channel]:
                    where = f"{locale} {kind.value} {part.value}"
                    try:
                        source = template_source(locale, kind, part)
                    except MissingTemplateError as exc:
                        problems.append(str(exc))
                        continue
                    env = _HTML_ENV if part is Part.EMAIL_HTML else _TEXT_ENV
                    try:
                        names = meta.find_undeclared_variables(env.parse(source))
                    except JinjaTemplateError as exc:
                        problems.append(f"{where}: does not compile: {exc}")
                        continue
                    used |= names
                    may = (kind_variables(kind) & ALLOWED_VARIABLES[part]) | RENDERER_VARIABLES
                    problems.extend(
                        f"{where}: uses {name}, which it may not" for name in sorted(names - may)
                    )
            problems.extend(
                f"{locale} {kind.value}: declares {name} but never uses it"
                for name in sorted(KIND_VARIABLES[kind] - used)
            )
    return problems
