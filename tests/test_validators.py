import pytest
from django.core.exceptions import ValidationError

from merchant.models import Customer
from merchant.validators import USCC_ALPHABET, normalise_uscc, uscc_check_char, validate_uscc

from .factories import valid_uscc

# Published codes with a correct check character.
GOOD = ["91350100M000100Y43", "914403001922038216", "9144030071526726XG", "91330100716105852F"]


def test_uscc_check_character_of_a_published_code():
    assert uscc_check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize("code", GOOD)
def test_well_formed_uscc_passes(code):
    validate_uscc(code)


@pytest.mark.parametrize("code", ["91350100m000100y43", " 91350100M000100Y43 "])
def test_lower_case_or_padded_uscc_passes_once_normalised(code):
    # Codes are stored in capitals, so the validator itself does not accept a form that would be stored
    # differently (and slip past the unique constraint); every input path normalises first.
    with pytest.raises(ValidationError):
        validate_uscc(code)

    assert normalise_uscc(code) == "91350100M000100Y43"
    validate_uscc(normalise_uscc(code))


@pytest.mark.parametrize("last", [c for c in USCC_ALPHABET if c != "3"])
def test_any_other_check_character_is_rejected(last):
    with pytest.raises(ValidationError) as exc:
        validate_uscc("91350100M000100Y4" + last)

    assert exc.value.code == "uscc_check"


@pytest.mark.parametrize("code", [
    "",
    None,
    "91350100M000100Y4",  # 17 characters
    "91350100M000100Y433",  # 19 characters
    "91350100I000100Y43",  # I is not in the alphabet
    "91350100O000100Y43",  # nor O
    "91350100S000100Y43",  # nor S
    "91350100M000100Y4Z",  # nor Z, even as the check character
    "9135010-M000100Y43",
])
def test_malformed_uscc_is_rejected(code):
    with pytest.raises(ValidationError) as exc:
        validate_uscc(code)

    assert exc.value.code == "uscc_format"


def test_a_changed_digit_is_caught_by_the_check_character():
    with pytest.raises(ValidationError):
        validate_uscc("91350100M000200Y43")


def test_check_character_zero_when_the_weighted_sum_is_a_multiple_of_31():
    # The check value is (31 - sum % 31) % 31, so a multiple of 31 maps to "0", not to the out-of-range 31.
    assert uscc_check_char("00000000000000000") == "0"


def test_factory_customers_have_valid_codes(db):
    for n in (0, 1, 12345, 999999999):
        validate_uscc(valid_uscc(n))


def test_customer_model_validates_its_uscc(db):
    customer = Customer(name="Bad", uscc="91350100M000100Y44")

    with pytest.raises(ValidationError) as exc:
        customer.full_clean()

    assert "uscc" in exc.value.message_dict
