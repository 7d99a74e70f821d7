"""Card numbers are masked as they arrive: which numbers are a card's, and which are not."""

from __future__ import annotations

import pytest

from core.card_numbers import mask_card_numbers


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("карта 4111111111111111 не работает", "карта •••• 1111 не работает"),
        ("4111 1111 1111 1111", "•••• 1111"),
        ("5555-5555-5555-4444, срок 12/27", "•••• 4444, срок 12/27"),
        ("Мир 2200 0000 0000 0004", "Мир •••• 0004"),
        ("две: 4111111111111111 и 5555555555554444", "две: •••• 1111 и •••• 4444"),
    ],
)
def test_a_card_number_keeps_its_last_four_digits(text: str, kept: str) -> None:
    assert mask_card_numbers(text) == kept


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails the Luhn check: a typo, or no card
        "счёт 40817810099910004312",  # an account number: 20 digits
        "счёт 4081 7810 0999 1000 4312",  # grouped, longer than a card's
        "тел. +7 916 123-45-67",
        "заказ 1234567890123",  # starts as no card scheme's number does
        "договор 7000 0000 0000 0005",  # passes the Luhn check, but no scheme starts so
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_card_numbers(text) == text
