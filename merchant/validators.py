"""Validators shared by forms, the import pipeline and the Open API."""
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z); the last is a check character.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """Return the check character for the first 17 characters of a USCC."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def normalise_uscc(value: str) -> str:
    """What every input path does before validating: trim and upper-case (codes are stored that way)."""
    return (value or "").strip().upper()


def validate_uscc(value: str) -> None:
    """Raise ValidationError unless value is a well-formed USCC (capitals) with a correct check character."""
    code = value or ""
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        raise ValidationError(
            _("A unified social credit code has 18 characters: digits and capital letters except I, O, S, V, Z."),
            code="uscc_format",
        )
    if uscc_check_char(code[:17]) != code[17]:
        raise ValidationError(_("The check character of this unified social credit code is wrong."), code="uscc_check")


USERNAME_MAX_LENGTH = 64
USERNAME_PUNCTUATION = frozenset("._-@")


def normalise_username(value: str) -> str:
    """What every path that creates a user does first: trim, then NFKC, as Django's login form reads the name
    typed at login (full-width letters and digits become the ordinary ones), so the stored name is the one
    that logs in."""
    return unicodedata.normalize("NFKC", (value or "").strip())


def _username_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category.startswith("L") or category == "Nd" or char in USERNAME_PUNCTUATION


def validate_username(value: str) -> None:
    """Raise ValidationError unless value (already normalised) is 1 to USERNAME_MAX_LENGTH letters (any script,
    CJK included), digits and . _ - @.

    Everything else is refused rather than cleaned: zero-width and other format characters make two names that
    look the same, control characters and whitespace hide in lists and logs, and < > & " ' would be markup
    anywhere a name is shown without escaping.
    """
    if not 1 <= len(value or "") <= USERNAME_MAX_LENGTH or not all(_username_char(c) for c in value):
        raise ValidationError(
            _("A username has 1 to %(max)d characters: letters, digits and . _ - @ only."),
            code="username_format", params={"max": USERNAME_MAX_LENGTH},
        )


def storable_text(text: str) -> bool:
    r"""JSON can carry NUL (\u0000) and unpaired surrogates (\ud800); PostgreSQL stores neither, in text or jsonb,
    and psycopg cannot even send them in a lookup: such text is a field error rather than a server error."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_storable_text(value: str) -> None:
    """Raise ValidationError for text holding NUL or an unpaired surrogate (see storable_text)."""
    if not storable_text(value):
        raise ValidationError(_("The text holds a character that cannot be searched for or stored (NUL or an "
                                "unpaired surrogate). Remove it and try again."), code="unstorable")
