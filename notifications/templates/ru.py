"""Русские тексты всех видов уведомлений (see notifications.templates.texts)."""

from __future__ import annotations

from notifications.model import Kind
from notifications.templates.texts import EmailText, KindTexts, Layout, PushText

LAYOUT = Layout(
    greeting="{% if name %}Здравствуйте, {{ name }}!{% else %}Здравствуйте!{% endif %}",
    signature="ТОТ — врач на дом",
    unsubscribe="Не присылать мне такие письма",
    why="Вы получили это письмо, потому что у вас есть учётная запись в ТОТ.",
    months=(
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
    at="в",
)

TEXTS: dict[Kind, KindTexts] = {
    Kind.OFFER: KindTexts(
        push=PushText(
            title="Новый вызов",
            body="{{ area }}, {{ eta_min }} мин от вас. Ответьте в течение {{ expires_in_s }} с.",
        ),
        sms="ТОТ: новый вызов, {{ area }}, {{ eta_min }} мин от вас. "
        "Ответьте за {{ expires_in_s }} с: {{ url }}",
        email=EmailText(
            subject="Новый вызов рядом с вами",
            paragraphs=(
                "Пациенту нужен врач: {{ area }}, {{ eta_min }} мин от вас.",
                "Ответьте в течение {{ expires_in_s }} с, иначе вызов уйдёт другому врачу.",
            ),
            action="Открыть вызов",
        ),
    ),
    Kind.DOCTOR_ASSIGNED: KindTexts(
        push=PushText(
            title="Вызов принят",
            body="Врач {{ doctor_name }} будет у вас примерно через {{ eta_min }} мин.",
        ),
        sms="ТОТ: вызов принят, врач {{ doctor_name }} будет примерно через {{ eta_min }} мин. "
        "{{ url }}",
        email=EmailText(
            subject="Ваш врач: {{ doctor_name }}",
            paragraphs=(
                "Вызов принят: врач {{ doctor_name }} будет у вас "
                "примерно через {{ eta_min }} мин.",
            ),
            action="Следить за врачом на карте",
        ),
    ),
    Kind.DOCTOR_ON_THE_WAY: KindTexts(
        push=PushText(
            title="Врач в пути",
            body="Врач {{ doctor_name }} в пути: примерно {{ eta_min }} мин.",
        ),
        sms="ТОТ: врач {{ doctor_name }} в пути, будет примерно через {{ eta_min }} мин. {{ url }}",
        email=EmailText(
            subject="Врач в пути",
            paragraphs=(
                "Врач {{ doctor_name }} в пути и будет у вас примерно через {{ eta_min }} мин.",
            ),
            action="Следить за врачом на карте",
        ),
    ),
    Kind.DOCTOR_ARRIVING: KindTexts(
        push=PushText(
            title="Врач почти у вас",
            body="Врач {{ doctor_name }} будет через {{ eta_min }} мин.",
        ),
        sms="ТОТ: врач {{ doctor_name }} будет через {{ eta_min }} мин. {{ url }}",
        email=EmailText(
            subject="Врач почти у вас",
            paragraphs=("Врач {{ doctor_name }} будет у вас через {{ eta_min }} мин.",),
            action="Следить за врачом на карте",
        ),
    ),
    Kind.DOCTOR_ARRIVED: KindTexts(
        push=PushText(title="Врач на месте", body="Врач {{ doctor_name }} у вашей двери."),
        sms="ТОТ: врач {{ doctor_name }} у вашей двери. {{ url }}",
        email=EmailText(
            subject="Врач на месте",
            paragraphs=("Врач {{ doctor_name }} на месте, у вашей двери.",),
            action="Открыть визит",
        ),
    ),
    Kind.BOOKING_CANCELLED: KindTexts(
        push=PushText(
            title="Визит отменён",
            body="Визит врача {{ visit_at_s|when }} отменён.",
        ),
        sms="ТОТ: визит врача {{ visit_at_s|when }} отменён. {{ url }}",
        email=EmailText(
            subject="Визит врача отменён",
            paragraphs=(
                "Визит врача {{ visit_at_s|when }} отменён.",
                "Если врач всё ещё нужен, вызовите его снова в приложении.",
            ),
            action="Подробности",
        ),
    ),
    Kind.BOOKING_REASSIGNED: KindTexts(
        push=PushText(
            title="К вам едет другой врач",
            body="Вместо прежнего врача приедет {{ doctor_name }}, "
            "примерно через {{ eta_min }} мин.",
        ),
        sms="ТОТ: к вам едет другой врач, {{ doctor_name }}, примерно через {{ eta_min }} мин. "
        "{{ url }}",
        email=EmailText(
            subject="К вам едет другой врач: {{ doctor_name }}",
            paragraphs=(
                "Ваш визит передан другому врачу: {{ doctor_name }}. Врач будет у вас "
                "примерно через {{ eta_min }} мин.",
            ),
            action="Следить за врачом на карте",
        ),
    ),
    Kind.PAYMENT_RECEIPT: KindTexts(
        push=PushText(
            title="Оплата получена",
            body="Оплачено {{ amount_kopecks|money }}. Чек готов.",
        ),
        sms="ТОТ: оплачено {{ amount_kopecks|money }}. Чек: {{ receipt_url }}",
        email=EmailText(
            subject="Ваш чек: {{ amount_kopecks|money }}",
            paragraphs=(
                "Мы получили оплату {{ amount_kopecks|money }}. Спасибо!",
                "Ваш чек: {{ receipt_url }}",
            ),
            action="Открыть визит",
        ),
    ),
    Kind.REFUND: KindTexts(
        push=PushText(
            title="Деньги возвращены",
            body="Возврат {{ amount_kopecks|money }} оформлен.",
        ),
        sms="ТОТ: возврат {{ amount_kopecks|money }} оформлен. {{ url }}",
        email=EmailText(
            subject="Возврат {{ amount_kopecks|money }}",
            paragraphs=(
                "Мы вернули вам {{ amount_kopecks|money }}.",
                "Банку может понадобиться несколько дней, чтобы показать возврат.",
            ),
            action="Подробности",
        ),
    ),
    Kind.VISIT_REMINDER_24H: KindTexts(
        push=PushText(
            title="Напоминание о визите врача",
            body="{{ visit_at_s|when }}, {{ address }}.",
        ),
        sms="ТОТ: напоминаем о визите врача {{ visit_at_s|when }}, {{ address }}. {{ url }}",
        email=EmailText(
            subject="Напоминание: визит врача {{ visit_at_s|when }}",
            paragraphs=(
                "Напоминаем о визите врача {{ visit_at_s|when }} по адресу {{ address }}.",
                "Если планы изменились, перенесите или отмените визит в приложении.",
            ),
            action="Открыть визит",
        ),
    ),
    Kind.VISIT_REMINDER_1H: KindTexts(
        push=PushText(
            title="Скоро приедет врач",
            body="Визит в {{ visit_at_s|clock }}, {{ address }}.",
        ),
        sms="ТОТ: визит врача в {{ visit_at_s|clock }}, {{ address }}. {{ url }}",
        email=EmailText(
            subject="Визит врача в {{ visit_at_s|clock }}",
            paragraphs=("Врач приедет в {{ visit_at_s|clock }} по адресу {{ address }}.",),
            action="Открыть визит",
        ),
    ),
    Kind.EVENT_REMINDER: KindTexts(
        push=PushText(title="Напоминание: {{ event_title }}", body="{{ event_at_s|when }}."),
        sms="ТОТ: {{ event_title }}, {{ event_at_s|when }}. {{ url }}",
        email=EmailText(
            subject="Напоминание: {{ event_title }}",
            paragraphs=("Напоминаем: {{ event_title }}, {{ event_at_s|when }}.",),
            action="Подробности",
        ),
    ),
    Kind.DOCUMENT_APPROVED: KindTexts(
        push=PushText(title="Документ одобрен", body="{{ document }}: проверено и одобрено."),
        sms="ТОТ: {{ document }}: проверено и одобрено. {{ url }}",
        email=EmailText(
            subject="Документ одобрен: {{ document }}",
            paragraphs=("Мы проверили и одобрили ваш документ: {{ document }}.",),
            action="Открыть документы",
        ),
    ),
    Kind.DOCUMENT_REJECTED: KindTexts(
        push=PushText(
            title="Документ не принят",
            body="{{ document }}: не принято. Причина — в приложении.",
        ),
        sms="ТОТ: {{ document }}: не принято. Причина: {{ url }}",
        email=EmailText(
            subject="Документ не принят: {{ document }}",
            paragraphs=(
                "Мы не смогли принять ваш документ: {{ document }}.",
                "Причина: {{ reason }}",
                "Пожалуйста, загрузите новый в приложении.",
            ),
            action="Открыть документы",
        ),
    ),
    Kind.PASSWORD_RESET: KindTexts(
        email=EmailText(
            subject="Сброс пароля ТОТ",
            paragraphs=(
                "Кто-то (надеемся, вы) попросил сбросить пароль вашей учётной записи ТОТ.",
                "Задайте новый пароль в течение {{ expires_min }} мин по кнопке ниже.",
                "Если это были не вы, ничего не делайте: пароль останется прежним.",
            ),
            action="Задать новый пароль",
        ),
    ),
    Kind.EMAIL_VERIFICATION: KindTexts(
        email=EmailText(
            subject="Подтвердите адрес электронной почты",
            paragraphs=(
                "Подтвердите, пожалуйста, что этот адрес ваш.",
                "Ссылка действует {{ expires_min }} мин.",
            ),
            action="Подтвердить адрес",
        ),
    ),
    Kind.PHONE_VERIFICATION: KindTexts(
        sms="ТОТ: код подтверждения {{ code }}. Действует {{ expires_min }} мин. "
        "Никому его не сообщайте.",
    ),
    Kind.NEW_SIGN_IN: KindTexts(
        push=PushText(
            title="Новый вход в учётную запись",
            body="{{ device }}, {{ place }}, {{ at_s|when }}. Не вы? Завершите сеанс.",
        ),
        sms="ТОТ: вход в учётную запись: {{ device }}, {{ place }}, {{ at_s|when }}. "
        "Не вы? {{ url }}",
        email=EmailText(
            subject="Новый вход в учётную запись ТОТ",
            paragraphs=(
                "В вашу учётную запись выполнен вход: {{ device }}, {{ place }}, {{ at_s|when }}.",
                "Если это были не вы, завершите этот сеанс и смените пароль.",
            ),
            action="Посмотреть сеансы",
        ),
    ),
    Kind.SESSION_REVOKED: KindTexts(
        push=PushText(
            title="Сеанс завершён",
            body="Сеанс на устройстве {{ device }} завершён {{ at_s|when }}.",
        ),
        sms="ТОТ: сеанс на устройстве {{ device }} завершён. Не вы? {{ url }}",
        email=EmailText(
            subject="Сеанс в ТОТ завершён",
            paragraphs=(
                "Сеанс на устройстве {{ device }} завершён {{ at_s|when }}.",
                "Если вы этого не делали, смените пароль.",
            ),
            action="Посмотреть сеансы",
        ),
    ),
}
