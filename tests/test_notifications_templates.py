"""The notification templates: every kind in Russian and English for every channel of its
plan; a missing variable raises; medical details never reach a message; HTML is
escaped; SMS and push fit their limits; rows render into what the channel adapters take."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from notifications import rules, templates
from notifications.channels import Channel
from notifications.model import (
    KIND_VARIABLES,
    LOCALES,
    MEDICAL_VARIABLES,
    Contact,
    Kind,
    MissingTemplateError,
    MissingVariableError,
    NotificationError,
    NotifyRequest,
    PayloadTooLargeError,
    Preferences,
    TemplateError,
    UnknownVariableError,
    kind_variables,
)
from notifications.templates import ALLOWED_VARIABLES, CHANNEL_PARTS, Part, render, render_parts
from notifications.templates.texts import KindTexts
from tests.test_notifications_rules import FCM_TOKEN, NOW, SUB, variables

CASES = [
    (locale, kind, channel)
    for locale in LOCALES
    for kind in Kind
    for channel in sorted(rules.plan_channels(kind))
]
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _fresh_compiled_templates() -> None:
    templates._compiled.cache_clear()


def test_the_template_data_has_no_problem() -> None:
    assert templates.template_problems() == []


@pytest.mark.parametrize(("locale", "kind", "channel"), CASES)
def test_every_kind_renders_in_both_languages_for_every_channel_of_its_plan(
    locale: str, kind: Kind, channel: Channel
) -> None:
    content = render_parts(kind, channel, locale, variables(kind, name="Anna"))
    assert content.text.strip()
    if channel is Channel.SMS:
        assert content.subject is None and content.html is None
        assert content.text.startswith("ТОТ:" if locale == "ru" else "TOT:")
    else:
        assert content.subject and "\n" not in content.subject
    if channel is Channel.EMAIL:
        assert content.html is not None and content.html.startswith("<!DOCTYPE html>")
        assert f'<html lang="{locale}">' in content.html
        assert "Anna" in content.text and "Anna" in content.html
        if "url" in kind_variables(kind):
            assert 'href="https://tot.example.org/b/0123456789abcdef"' in content.html
    if locale == "ru":
        assert CYRILLIC.search(content.text)
    else:
        # the words are English: without the (Russian) values no Cyrillic is left
        stripped = content.text
        for value in variables(kind, name="Anna").values():
            stripped = stripped.replace(value, "")
        assert not CYRILLIC.search(stripped)


def test_a_kind_without_a_template_for_a_channel_of_its_plan_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = dict(templates.TEXTS["en"])
    texts[Kind.OFFER] = replace(texts[Kind.OFFER], sms=None)
    del texts[Kind.REFUND]
    monkeypatch.setitem(templates.TEXTS, "en", texts)
    problems = templates.template_problems()
    assert "no en SMS template for offer" in problems
    assert "no 'en' templates for refund" in problems
    with pytest.raises(MissingTemplateError):
        render_parts(Kind.OFFER, Channel.SMS, "en", variables(Kind.OFFER))
    with pytest.raises(MissingTemplateError):
        render_parts(Kind.OFFER, Channel.SMS, "de", variables(Kind.OFFER))


@pytest.mark.parametrize("kind", list(Kind))
def test_rendering_with_any_variable_missing_raises(kind: Kind) -> None:
    channel = sorted(rules.plan_channels(kind))[0]
    for name in kind_variables(kind):
        partial = variables(kind)
        del partial[name]
        for locale in LOCALES:
            with pytest.raises(MissingVariableError, match=name):
                render_parts(kind, channel, locale, partial)


def test_a_template_using_a_variable_it_was_not_given_raises_not_renders_blank(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = dict(templates.TEXTS["en"])
    texts[Kind.OFFER] = replace(texts[Kind.OFFER], sms="TOT: {{ doctor_name }} {{ url }}")
    monkeypatch.setitem(templates.TEXTS, "en", texts)
    assert "en offer sms_text: uses doctor_name, which it may not" in (
        templates.template_problems()
    )
    with pytest.raises(MissingVariableError, match="doctor_name"):
        render_parts(Kind.OFFER, Channel.SMS, "en", variables(Kind.OFFER))


def test_medical_details_are_never_available_to_any_template() -> None:
    assert not MEDICAL_VARIABLES & templates.ALL_VARIABLES
    for part, allowed in ALLOWED_VARIABLES.items():
        assert not MEDICAL_VARIABLES & allowed, part


@pytest.mark.parametrize("channel", list(Channel))
def test_passing_symptoms_is_refused(channel: Channel) -> None:
    kind = Kind.DOCTOR_ASSIGNED
    for locale in LOCALES:
        with pytest.raises(UnknownVariableError, match="symptoms"):
            render_parts(
                kind, channel, locale, variables(kind, symptoms="боль в груди, температура 39")
            )


def test_a_template_that_asks_for_symptoms_is_flagged_and_cannot_render_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = dict(templates.TEXTS["ru"])
    texts[Kind.DOCTOR_ASSIGNED] = replace(
        texts[Kind.DOCTOR_ASSIGNED], sms="ТОТ: {{ symptoms }} {{ doctor_name }}"
    )
    monkeypatch.setitem(templates.TEXTS, "ru", texts)
    assert "ru doctor_assigned sms_text: uses symptoms, which it may not" in (
        templates.template_problems()
    )
    with pytest.raises(MissingVariableError, match="symptoms"):
        render_parts(Kind.DOCTOR_ASSIGNED, Channel.SMS, "ru", variables(Kind.DOCTOR_ASSIGNED))


def test_each_part_sees_only_its_allow_list() -> None:
    given_vars = variables(Kind.DOCUMENT_REJECTED)
    assert "reason" not in templates._context(Part.SMS_TEXT, given_vars)
    assert "reason" not in templates._context(Part.PUSH_BODY, given_vars)
    assert "reason" not in templates._context(Part.EMAIL_SUBJECT, given_vars)
    assert templates._context(Part.EMAIL_TEXT, given_vars)["reason"] == "Скан нечитаем"
    reminder = variables(Kind.VISIT_REMINDER_24H)
    assert "address" not in templates._context(Part.PUSH_TITLE, reminder)
    assert "address" not in templates._context(Part.EMAIL_SUBJECT, reminder)
    assert "address" in templates._context(Part.SMS_TEXT, reminder)
    # and the reason a document was refused shows only in the e-mail's body
    kind = Kind.DOCUMENT_REJECTED
    for locale in LOCALES:
        for channel in (Channel.WEBPUSH, Channel.SMS):
            assert "Скан нечитаем" not in render_parts(kind, channel, locale, given_vars).text
        email = render_parts(kind, Channel.EMAIL, locale, given_vars)
        assert "Скан нечитаем" in email.text and "Скан нечитаем" not in (email.subject or "")


def test_html_is_escaped_and_plain_text_is_not() -> None:
    kind = Kind.DOCTOR_ASSIGNED
    vars_ = variables(kind, doctor_name="<script>alert('x')</script>", name='"><img src=x>')
    email = render_parts(kind, Channel.EMAIL, "en", vars_)
    assert email.html is not None
    assert "<script>" not in email.html and "<img" not in email.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in email.html
    assert "&#34;&gt;&lt;img src=x&gt;" in email.html
    assert "<script>alert('x')</script>" in email.text
    assert email.subject == "Your doctor: <script>alert('x')</script>"


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(lambda t: "\x00" not in t and t.strip()))
def test_any_name_is_escaped_in_the_html_part(name: str) -> None:
    kind = Kind.DOCTOR_ARRIVED
    for locale in LOCALES:
        email = render_parts(kind, Channel.EMAIL, locale, variables(kind, doctor_name=name))
        assert email.html is not None
        assert str(escape(name)) in email.html
        assert email.subject is not None and "\n" not in email.subject
        assert "\r" not in email.subject


def test_a_subject_cannot_carry_a_header() -> None:
    kind = Kind.DOCTOR_ASSIGNED
    email = render_parts(
        kind, Channel.EMAIL, "en", variables(kind, doctor_name="Ann\r\nBcc: all@example.org")
    )
    assert email.subject == "Your doctor: Ann Bcc: all@example.org"


def test_long_values_are_cut_in_short_parts_only() -> None:
    kind = Kind.NEW_SIGN_IN
    device = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 " * 3
    vars_ = variables(kind, device=device)
    sms = render_parts(kind, Channel.SMS, "en", vars_).text
    assert device not in sms and device[:40] in sms and "…" in sms
    email = render_parts(kind, Channel.EMAIL, "en", vars_)
    assert " ".join(device.split()) in " ".join(email.text.split())


def test_filters_format_money_and_times_in_the_person_s_language_and_zone() -> None:
    kind = Kind.PAYMENT_RECEIPT
    ru = render_parts(kind, Channel.WEBPUSH, "ru", variables(kind, amount_kopecks="150050"))
    assert ru.text == "Оплачено 1\u00a0500,50\u00a0₽. Чек готов."
    en = render_parts(kind, Channel.WEBPUSH, "en", variables(kind, amount_kopecks="150000"))
    assert en.text == "RUB 1,500 paid. Your receipt is ready."
    kind = Kind.VISIT_REMINDER_24H
    at_s = "1798207200"  # 2026-12-25T14:00:00Z
    moscow = render_parts(kind, Channel.WEBPUSH, "ru", variables(kind, visit_at_s=at_s))
    assert moscow.text.startswith("25 декабря в 17:00, ")
    vladivostok = render_parts(
        kind, Channel.WEBPUSH, "en", variables(kind, visit_at_s=at_s), tz="Asia/Vladivostok"
    )
    assert vladivostok.text.startswith("26 December at 00:00, ")
    soon = render_parts(
        Kind.VISIT_REMINDER_1H,
        Channel.SMS,
        "ru",
        variables(Kind.VISIT_REMINDER_1H, visit_at_s=at_s),
    )
    assert "визит врача в 17:00" in soon.text
    with pytest.raises(NotificationError):
        render_parts(kind, Channel.WEBPUSH, "ru", variables(kind), tz="Nowhere/City")


def test_the_greeting_without_a_name() -> None:
    kind = Kind.REFUND
    assert render_parts(kind, Channel.EMAIL, "ru", variables(kind, name="")).text.startswith(
        "Здравствуйте!\n"
    )
    assert render_parts(kind, Channel.EMAIL, "en", variables(kind, name="")).text.startswith(
        "Hello!\n"
    )


# ---------------------------------------------------------------------------- limits


@pytest.mark.parametrize(("locale", "kind"), [(loc, k) for loc in LOCALES for k in Kind])
def test_sms_and_push_fit_their_limits_with_realistic_values(locale: str, kind: Kind) -> None:
    channels = rules.plan_channels(kind)
    if Channel.SMS in channels:
        text = render_parts(kind, Channel.SMS, locale, variables(kind)).text
        assert rules.sms_size(text).segments <= 2, text
    if Channel.WEBPUSH in channels:
        rows = _rows(kind, locale)
        for row in rows:
            if row.channel in (Channel.WEBPUSH, Channel.FCM):
                payload = rules.push_payload(render(row, now_s=NOW))
                assert len(payload) < 1_000


@pytest.mark.parametrize(("locale", "kind"), [(loc, k) for loc in LOCALES for k in Kind])
def test_the_longest_values_still_give_a_message_or_a_clear_refusal(
    locale: str, kind: Kind
) -> None:
    long_values = {
        k: ("x" * 990 if k not in rules.URL_VARIABLES else "https://e.example/" + "a" * 900)
        for k in kind_variables(kind)
        if k not in rules.COUNT_VARIABLES and not k.endswith("_s") and not k.endswith("_kopecks")
    }
    for row in _rows(kind, locale, **long_values):
        try:
            rendered = render(row, now_s=NOW)
        except PayloadTooLargeError:
            assert row.channel is Channel.SMS  # only a long link makes an SMS too long
            continue
        if row.channel is Channel.SMS:
            assert rules.sms_size(rendered.text).segments <= rules.MAX_SMS_SEGMENTS


def test_an_oversized_push_is_refused() -> None:
    kind = Kind.OFFER
    (row, *_) = _rows(kind, "en", url="https://e.example/" + "a" * 980)
    assert len(rules.push_payload(render(row, now_s=NOW))) < rules.MAX_PUSH_PAYLOAD_BYTES
    with pytest.raises(PayloadTooLargeError):
        # a (hypothetical) huge body: the limit holds whatever the template
        rules.check_push_payload(
            rules.push_payload(replace(render(row, now_s=NOW), text="ж" * 2_000))
        )


# ---------------------------------------------------------------------------- rows into messages

CONTACT = Contact(
    user_id="u1",
    email="anna@example.org",
    email_verified=True,
    phone="+79161234567",
    phone_verified=True,
    push_subscriptions=(SUB,),
    fcm_tokens=(FCM_TOKEN,),
)


def _rows(kind: Kind, locale: str, **extra: str) -> list:  # type: ignore[type-arg]
    request = NotifyRequest(
        event_key="e1",
        user_id="u1",
        kind=kind,
        variables=variables(kind, **extra),
        emergency=rules.POLICIES[kind].emergency_capable,
        to={Kind.PHONE_VERIFICATION: "+79161234567", Kind.EMAIL_VERIFICATION: "a@example.org"}.get(
            kind
        ),
    )
    prefs = Preferences(user_id="u1", locale=locale)
    return list(rules.plan(request, preferences=prefs, contact=CONTACT, now_s=NOW).rows)


def test_a_row_renders_into_what_the_adapters_take() -> None:
    rows = {r.channel: r for r in _rows(Kind.OFFER, "ru")}
    push = render(rows[Channel.WEBPUSH], now_s=NOW + 20)
    assert push.channel is Channel.WEBPUSH and push.to == SUB.to_json()
    assert push.subject == "Новый вызов" and push.urgency == "high"
    assert push.data == {"kind": "offer", "url": "https://tot.example.org/b/0123456789abcdef"}
    assert push.ttl_s == int(rows[Channel.WEBPUSH].expires_s - NOW - 20)
    assert push.idempotency_key == rows[Channel.WEBPUSH].idempotency_key
    sms = render(rows[Channel.SMS], now_s=NOW)
    assert sms.to == "+79161234567" and sms.subject is None and sms.html is None
    email = render(rows[Channel.EMAIL], now_s=NOW, unsubscribe_url="https://tot.example.org/u/t")
    assert email.unsubscribe_url == "https://tot.example.org/u/t"
    assert "https://tot.example.org/u/t" in email.text and email.html
    assert 'href="https://tot.example.org/u/t"' in email.html


def test_mandatory_e_mail_carries_no_unsubscribe_link() -> None:
    for kind in (Kind.PASSWORD_RESET, Kind.NEW_SIGN_IN, Kind.EMAIL_VERIFICATION):
        (row,) = [r for r in _rows(kind, "en") if r.channel is Channel.EMAIL]
        email = render(row, now_s=NOW, unsubscribe_url="https://tot.example.org/u/t")
        assert email.unsubscribe_url is None
        assert "/u/t" not in email.text and email.html and "/u/t" not in email.html


def test_a_row_with_bad_variables_does_not_render() -> None:
    (row, *_) = _rows(Kind.OFFER, "en")
    with pytest.raises(UnknownVariableError):
        render(replace(row, variables={**row.variables, "notes": "x"}), now_s=NOW)
    with pytest.raises(MissingVariableError):
        render(replace(row, variables={}), now_s=NOW)
    assert issubclass(MissingVariableError, TemplateError)
    assert issubclass(TemplateError, NotificationError)
    assert issubclass(NotificationError, ValueError)


def test_every_kind_declares_its_variables_and_every_part_of_each_channel_exists() -> None:
    assert set(KIND_VARIABLES) == set(Kind)
    for locale in LOCALES:
        for kind in Kind:
            texts: KindTexts = templates.TEXTS[locale][kind]
            for channel in rules.plan_channels(kind):
                for part in CHANNEL_PARTS[channel]:
                    assert templates.template_source(locale, kind, part)
            assert isinstance(texts, KindTexts)
