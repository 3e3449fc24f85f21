"""English texts of every notification kind (see notifications.templates.texts)."""

from __future__ import annotations

from notifications.model import Kind
from notifications.templates.texts import EmailText, KindTexts, Layout, PushText

LAYOUT = Layout(
    greeting="{% if name %}Hello, {{ name }}!{% else %}Hello!{% endif %}",
    signature="TOT, doctors at home",
    unsubscribe="Do not e-mail me about this",
    why="You receive this message because you have an account with TOT.",
    months=(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    at="at",
)

TEXTS: dict[Kind, KindTexts] = {
    Kind.OFFER: KindTexts(
        push=PushText(
            title="New visit request",
            body="{{ area }}, {{ eta_min }} min away. Answer within {{ expires_in_s }} s.",
        ),
        sms="TOT: new visit request, {{ area }}, {{ eta_min }} min away. "
        "Answer within {{ expires_in_s }} s: {{ url }}",
        email=EmailText(
            subject="New visit request near you",
            paragraphs=(
                "A patient needs a doctor: {{ area }}, {{ eta_min }} min away from you.",
                "Answer within {{ expires_in_s }} s, or the request goes to another doctor.",
            ),
            action="Open the request",
        ),
    ),
    Kind.DOCTOR_ASSIGNED: KindTexts(
        push=PushText(
            title="A doctor is coming",
            body="{{ doctor_name }} accepted your call: about {{ eta_min }} min.",
        ),
        sms="TOT: {{ doctor_name }} accepted your call, about {{ eta_min }} min. Track: {{ url }}",
        email=EmailText(
            subject="Your doctor: {{ doctor_name }}",
            paragraphs=(
                "{{ doctor_name }} accepted your call and will be with you "
                "in about {{ eta_min }} min.",
            ),
            action="Follow the doctor on the map",
        ),
    ),
    Kind.DOCTOR_ON_THE_WAY: KindTexts(
        push=PushText(
            title="Your doctor is on the way",
            body="{{ doctor_name }} is on the way: about {{ eta_min }} min.",
        ),
        sms="TOT: {{ doctor_name }} is on the way, about {{ eta_min }} min. Track: {{ url }}",
        email=EmailText(
            subject="Your doctor is on the way",
            paragraphs=(
                "{{ doctor_name }} is on the way and will be with you in about {{ eta_min }} min.",
            ),
            action="Follow the doctor on the map",
        ),
    ),
    Kind.DOCTOR_ARRIVING: KindTexts(
        push=PushText(
            title="Your doctor is almost there",
            body="{{ doctor_name }} arrives in about {{ eta_min }} min.",
        ),
        sms="TOT: {{ doctor_name }} arrives in about {{ eta_min }} min. {{ url }}",
        email=EmailText(
            subject="Your doctor is almost there",
            paragraphs=("{{ doctor_name }} arrives in about {{ eta_min }} min.",),
            action="Follow the doctor on the map",
        ),
    ),
    Kind.DOCTOR_ARRIVED: KindTexts(
        push=PushText(title="Your doctor has arrived", body="{{ doctor_name }} is at your door."),
        sms="TOT: {{ doctor_name }} is at your door. {{ url }}",
        email=EmailText(
            subject="Your doctor has arrived",
            paragraphs=("{{ doctor_name }} has arrived and is at your door.",),
            action="Open your visit",
        ),
    ),
    Kind.BOOKING_CANCELLED: KindTexts(
        push=PushText(
            title="Visit cancelled",
            body="Your doctor's visit on {{ visit_at_s|when }} is cancelled.",
        ),
        sms="TOT: your doctor's visit on {{ visit_at_s|when }} is cancelled. {{ url }}",
        email=EmailText(
            subject="Your doctor's visit is cancelled",
            paragraphs=(
                "Your doctor's visit on {{ visit_at_s|when }} is cancelled.",
                "If you still need a doctor, you can call one again in the app.",
            ),
            action="See the details",
        ),
    ),
    Kind.BOOKING_REASSIGNED: KindTexts(
        push=PushText(
            title="Another doctor is coming",
            body="{{ doctor_name }} is coming instead: about {{ eta_min }} min.",
        ),
        sms="TOT: another doctor, {{ doctor_name }}, is coming, about {{ eta_min }} min. {{ url }}",
        email=EmailText(
            subject="Another doctor is coming: {{ doctor_name }}",
            paragraphs=(
                "Your visit has passed to {{ doctor_name }}, who will be with you "
                "in about {{ eta_min }} min.",
            ),
            action="Follow the doctor on the map",
        ),
    ),
    Kind.PAYMENT_RECEIPT: KindTexts(
        push=PushText(
            title="Payment received",
            body="{{ amount_kopecks|money }} paid. Your receipt is ready.",
        ),
        sms="TOT: {{ amount_kopecks|money }} paid. Receipt: {{ receipt_url }}",
        email=EmailText(
            subject="Your receipt: {{ amount_kopecks|money }}",
            paragraphs=(
                "We received your payment of {{ amount_kopecks|money }}. Thank you!",
                "Your receipt: {{ receipt_url }}",
            ),
            action="Open your visit",
        ),
    ),
    Kind.REFUND: KindTexts(
        push=PushText(
            title="Refund made",
            body="{{ amount_kopecks|money }} is on its way back to you.",
        ),
        sms="TOT: refund of {{ amount_kopecks|money }} made. {{ url }}",
        email=EmailText(
            subject="Refund of {{ amount_kopecks|money }}",
            paragraphs=(
                "We refunded {{ amount_kopecks|money }}.",
                "Banks can take a few days to show a refund.",
            ),
            action="See the details",
        ),
    ),
    Kind.VISIT_REMINDER_24H: KindTexts(
        push=PushText(
            title="Reminder: doctor's visit",
            body="{{ visit_at_s|when }}, {{ address }}.",
        ),
        sms="TOT: reminder, doctor's visit on {{ visit_at_s|when }}, {{ address }}. {{ url }}",
        email=EmailText(
            subject="Reminder: doctor's visit on {{ visit_at_s|when }}",
            paragraphs=(
                "A reminder of your doctor's visit on {{ visit_at_s|when }}, at {{ address }}.",
                "If your plans have changed, you can move or cancel the visit in the app.",
            ),
            action="Open your visit",
        ),
    ),
    Kind.VISIT_REMINDER_1H: KindTexts(
        push=PushText(
            title="Your doctor comes soon",
            body="Visit at {{ visit_at_s|clock }}, {{ address }}.",
        ),
        sms="TOT: doctor's visit at {{ visit_at_s|clock }}, {{ address }}. {{ url }}",
        email=EmailText(
            subject="Doctor's visit at {{ visit_at_s|clock }}",
            paragraphs=("Your doctor comes at {{ visit_at_s|clock }}, to {{ address }}.",),
            action="Open your visit",
        ),
    ),
    Kind.EVENT_REMINDER: KindTexts(
        push=PushText(title="Reminder: {{ event_title }}", body="{{ event_at_s|when }}."),
        sms="TOT: {{ event_title }}, {{ event_at_s|when }}. {{ url }}",
        email=EmailText(
            subject="Reminder: {{ event_title }}",
            paragraphs=("A reminder: {{ event_title }}, {{ event_at_s|when }}.",),
            action="See the details",
        ),
    ),
    Kind.DOCUMENT_APPROVED: KindTexts(
        push=PushText(title="Document approved", body="{{ document }}: checked and approved."),
        sms="TOT: {{ document }}: checked and approved. {{ url }}",
        email=EmailText(
            subject="Document approved: {{ document }}",
            paragraphs=("We have checked your document and approved it: {{ document }}.",),
            action="Open your documents",
        ),
    ),
    Kind.DOCUMENT_REJECTED: KindTexts(
        push=PushText(
            title="Document not accepted",
            body="{{ document }}: not accepted. Open the app to see why.",
        ),
        sms="TOT: {{ document }}: not accepted. See why: {{ url }}",
        email=EmailText(
            subject="Document not accepted: {{ document }}",
            paragraphs=(
                "We could not accept your document: {{ document }}.",
                "The reason: {{ reason }}",
                "Please upload a new one in the app.",
            ),
            action="Open your documents",
        ),
    ),
    Kind.PASSWORD_RESET: KindTexts(
        email=EmailText(
            subject="Reset your TOT password",
            paragraphs=(
                "Someone, we hope you, asked to reset the password of your TOT account.",
                "Set a new password within {{ expires_min }} min with the button below.",
                "If it was not you, do nothing: your password stays as it is.",
            ),
            action="Set a new password",
        ),
    ),
    Kind.EMAIL_VERIFICATION: KindTexts(
        email=EmailText(
            subject="Confirm your e-mail address",
            paragraphs=(
                "Please confirm that this e-mail address is yours.",
                "The link works for {{ expires_min }} min.",
            ),
            action="Confirm the address",
        ),
    ),
    Kind.PHONE_VERIFICATION: KindTexts(
        sms="TOT: your code is {{ code }}. It works for {{ expires_min }} min. "
        "Do not tell it to anyone.",
    ),
    Kind.NEW_SIGN_IN: KindTexts(
        push=PushText(
            title="New sign-in to your account",
            body="{{ device }}, {{ place }}, {{ at_s|when }}. Not you? End the session.",
        ),
        sms="TOT: new sign-in: {{ device }}, {{ place }}, {{ at_s|when }}. Not you? {{ url }}",
        email=EmailText(
            subject="New sign-in to your TOT account",
            paragraphs=(
                "Someone signed in to your account: {{ device }}, {{ place }}, {{ at_s|when }}.",
                "If it was not you, end that session and change your password.",
            ),
            action="Review your sessions",
        ),
    ),
    Kind.SESSION_REVOKED: KindTexts(
        push=PushText(
            title="Session ended",
            body="The session on {{ device }} ended {{ at_s|when }}.",
        ),
        sms="TOT: the session on {{ device }} was ended. Not you? {{ url }}",
        email=EmailText(
            subject="A TOT session was ended",
            paragraphs=(
                "The session on {{ device }} was ended on {{ at_s|when }}.",
                "If you did not do it, change your password.",
            ),
            action="Review your sessions",
        ),
    ),
}
