"""Money as integer kopecks, and its exact text form in roubles ("123.45").

YooKassa speaks amounts as strings of roubles with two decimals; we keep kopecks as
`int` everywhere and convert at the edge, exactly (no float ever touches an amount).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from payments.model import MAX_AMOUNT_KOPECKS, AmountError, Kopecks

CURRENCY = "RUB"

# "0", "100", "100.5", "100.50"; no sign, no exponent, no leading zeros, at most 2 decimals.
_RUB = re.compile(r"(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,2}))?")


def is_kopecks(value: object) -> bool:
    """An `int` (a bool is not an amount; a float never is, even 100.0)."""
    return type(value) is int


def check_kopecks(
    value: object, what: str = "amount_kopecks", *, allow_zero: bool = False
) -> Kopecks:
    """`value` as a valid amount: an int in 1..MAX_AMOUNT_KOPECKS (0.. with allow_zero),
    else AmountError naming `what`."""
    if not is_kopecks(value):
        raise AmountError(f"{what}: a whole number of kopecks, not {type(value).__name__}")
    assert isinstance(value, int)
    low = 0 if allow_zero else 1
    if value < low:
        raise AmountError(f"{what}: must be {'0 or more' if allow_zero else 'positive'}")
    if value > MAX_AMOUNT_KOPECKS:
        raise AmountError(f"{what}: above the limit of {MAX_AMOUNT_KOPECKS} kopecks")
    return value


def kopecks_to_rub_str(amount_kopecks: Kopecks) -> str:
    """12345 -> "123.45", 100 -> "1.00", 0 -> "0.00". Refuses negatives and non-ints."""
    check_kopecks(amount_kopecks, allow_zero=True)
    return f"{amount_kopecks // 100}.{amount_kopecks % 100:02d}"


def rub_str_to_kopecks(text: str) -> Kopecks:
    """ "123.45" -> 12345, "100" -> 10000, "0.10" -> 10, "0.1" -> 10. Strict: refuses
    floats, signs, exponents, spaces, more than two decimals, leading zeros and amounts
    over MAX_AMOUNT_KOPECKS (AmountError)."""
    if not isinstance(text, str):
        raise AmountError(
            f"an amount in roubles is a string like '123.45', not {type(text).__name__}"
        )
    match = _RUB.fullmatch(text)
    if match is None:
        raise AmountError(f"not an amount in roubles: {text[:32]!r} (expected like '123.45')")
    roubles, fraction = match.group(1), match.group(2) or ""
    amount = int(roubles) * 100 + int(fraction.ljust(2, "0") or "0")
    if amount > MAX_AMOUNT_KOPECKS:
        raise AmountError(f"above the limit of {MAX_AMOUNT_KOPECKS} kopecks")
    return amount


def amount_json(amount_kopecks: Kopecks, currency: str = CURRENCY) -> dict[str, str]:
    """YooKassa's amount object: {"value": "123.45", "currency": "RUB"}."""
    return {"value": kopecks_to_rub_str(amount_kopecks), "currency": currency}


def amount_from_json(data: object) -> Kopecks:
    """The reverse of amount_json; only RUB. AmountError on anything else."""
    if not isinstance(data, dict) or set(data) != {"value", "currency"}:
        raise AmountError("an amount is {'value': '123.45', 'currency': 'RUB'}")
    if data["currency"] != CURRENCY:
        raise AmountError(f"only {CURRENCY} amounts are accepted")
    return rub_str_to_kopecks(data["value"])


def percent_of(amount_kopecks: Kopecks, percent: int) -> Kopecks:
    """floor(amount * percent / 100), exact."""
    return amount_kopecks * percent // 100


def bp_of(amount_kopecks: Kopecks, basis_points: int) -> Kopecks:
    """floor(amount * bp / 10,000), exact."""
    return amount_kopecks * basis_points // 10_000


def split_proportionally(total_kopecks: Kopecks, weights: Sequence[Kopecks]) -> list[Kopecks]:
    """Split `total` over parts in proportion to `weights` (each part at most its weight,
    so 0 <= total <= sum(weights)): each part gets floor(w * total / W); the rounding
    remainder (fewer kopecks than parts) goes to the last part, and to the one before it
    when the last is full, and so on. The parts sum to `total` exactly."""
    whole = sum(weights)
    if any(w < 0 for w in weights) or not 0 <= total_kopecks <= whole:
        raise AmountError("cannot split: the total must be between 0 and the sum of the parts")
    if whole == 0:
        return [0 for _ in weights]
    parts = [w * total_kopecks // whole for w in weights]
    rest = total_kopecks - sum(parts)
    for i in range(len(parts) - 1, -1, -1):
        if rest == 0:
            break
        room = weights[i] - parts[i]
        take = min(room, rest)
        parts[i] += take
        rest -= take
    return parts


def kopecks_to_signed_rub_str(amount_kopecks: Kopecks) -> str:
    """Like kopecks_to_rub_str, with a '-' for a negative amount (reports: a period's
    net can be negative after refunds). -5 -> "-0.05"."""
    if not is_kopecks(amount_kopecks):
        raise AmountError(f"a whole number of kopecks, not {type(amount_kopecks).__name__}")
    sign = "-" if amount_kopecks < 0 else ""
    return sign + kopecks_to_rub_str(abs(amount_kopecks))
