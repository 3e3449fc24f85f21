"""Texts the payments' OpenAPI responses share (schemathesis.toml names their operations)."""

NOT_PAYABLE = (
    "well-formed but not acceptable: an amount above what can be refunded, a price list "
    "the rules refuse (codes twice, no service for a call type), extras not in the "
    "clinic's price list or above the cap the patient accepted, a date not in the "
    "calendar, or a period that is empty or longer than 400 days"
)
