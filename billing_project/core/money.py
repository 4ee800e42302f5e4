"""Exact money: currencies, their minor-unit exponent, and the one place decimals become cents.

Rule (docs/billing-semantics.md): an amount in major units is rounded once, half-up, to the
currency's exponent, then expressed as an integer of minor units. Nothing else rounds money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 codes whose minor unit is not 2 decimals. Every other supported code has 2.
_EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

# The active ISO 4217 currency codes Lago accepts.
CURRENCIES: frozenset[str] = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STD",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWL",
    ]
)


class UnknownCurrency(ValueError):
    pass


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in CURRENCIES


def exponent(currency: str) -> int:
    if currency not in CURRENCIES:
        raise UnknownCurrency(currency)
    return _EXPONENTS.get(currency, 2)


def subunit_factor(currency: str) -> int:
    factor: int = 10 ** exponent(currency)  # int ** int is typed Any (a negative power is a float)
    return factor


def to_cents(amount: Decimal, currency: str) -> int:
    """Major units (Decimal) to integer minor units, rounding half-up once."""
    if not isinstance(amount, Decimal):
        raise TypeError("money amounts must be Decimal")
    quantum = Decimal(1).scaleb(-exponent(currency))
    rounded = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    return int(rounded.scaleb(exponent(currency)))


def round_cents(precise_cents: Decimal) -> int:
    """A precise amount already in minor units to an integer, half-up."""
    return int(precise_cents.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int, currency: str) -> Decimal:
    """Integer minor units to a Decimal in major units (exact)."""
    return Decimal(cents).scaleb(-exponent(currency))


def format_amount(cents: int | None, currency: str | None) -> str:
    """Human display, e.g. `12.50 USD`; used by the admin and PDFs."""
    if cents is None or not currency:
        return "-"
    try:
        value = from_cents(int(cents), currency)
    except UnknownCurrency:
        return f"{cents} {currency} (minor units)"
    places = exponent(currency)
    return f"{value:,.{places}f} {currency}"


def parse_decimal(value: object) -> Decimal | None:
    """A decimal from a string or an integer; None if it is not a finite number.

    Floats are refused on purpose: a float has already lost exactness.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 100:
            return None
        try:
            result = Decimal(text)
        except (InvalidOperation, ValueError):
            return None
        return result if result.is_finite() else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    return None


# A double's shortest repr gives back any decimal of up to this many significant digits.
_EXACT_FLOAT_DIGITS = 15


def decimal_number(value: Decimal | int) -> float:
    """An exact decimal as the float a JSON number is rendered from, with the decimal's digits.

    Lago types a few decimals as JSON numbers (tax `rate`, plan `trial_period`, `tax_rate`): `20.0`,
    `8.875`. A double renders (shortest repr, in the standard library and orjson alike) exactly the
    digits of any decimal of up to 15 significant digits; the columns holding these values keep
    fewer (`DecimalField(max_digits=12)` at most). A value with more digits is refused (ValueError)
    instead of being rendered with changed digits (docs/lago-compatibility.md, "Numbers").
    """
    exact = Decimal(value)
    if not exact.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    number = float(exact)
    if len(exact.normalize().as_tuple().digits) > _EXACT_FLOAT_DIGITS or Decimal(repr(number)) != exact:
        raise ValueError(f"{value!r} has more digits than a JSON number renders exactly")
    return number
