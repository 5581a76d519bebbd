def test_uscc_check_character_is_computed():
    from merchant.validators import uscc_check_char

    # A published example USCC: 91350100M000100Y43
    assert uscc_check_char("91350100M000100Y4") == "3"
