"""§5.8: a sender is identified by INN, OGRN/OGRNIP and login; numbers must be checksum-valid.

The check-digit oracles below are written from the Federal Tax Service
descriptions independently of `daemon.tickets.identity`, so the tests do not grade the
code against itself.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from daemon.tickets.identity import find_inns, find_logins, find_ogrns, valid_inn, valid_ogrn

SBERBANK_INN, SBERBANK_OGRN = "7707083893", "1027700132195"
YANDEX_INN, YANDEX_OGRN = "7736207543", "1027700229193"
REAL_INNS = (SBERBANK_INN, YANDEX_INN)
REAL_OGRNS = (SBERBANK_OGRN, YANDEX_OGRN)


def inn_check(digits: str, weights: list[int]) -> tuple[int, int]:
    """(raw remainder mod 11, check digit) of a weighted sum."""
    raw = sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11
    return raw, raw % 10


W10 = [2, 4, 10, 3, 5, 9, 4, 6, 8]
W11 = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
W12 = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]


def make_inn10(body: str) -> str:
    return body + str(inn_check(body, W10)[1])


def make_inn12(body: str) -> str:
    eleven = body + str(inn_check(body, W11)[1])
    return eleven + str(inn_check(eleven, W12)[1])


def make_ogrn(body: str) -> str:
    return body + str(int(body) % 11 % 10)


def make_ogrnip(body: str) -> str:
    return body + str(int(body) % 13 % 10)


def single_digit_changes(number: str) -> list[str]:
    return [number[:i] + d + number[i + 1:]
            for i in range(len(number)) for d in "0123456789" if d != number[i]]


# 12-digit personal INNs computed here with the algorithm (region 77 Moscow, 50 Moscow Oblast).
PERSONAL_INNS = (make_inn12("7712345678"), make_inn12("5001007322"), make_inn12("7830002293"))


# ---------------------------------------------------------------- known numbers

@pytest.mark.parametrize("inn", [*REAL_INNS, *PERSONAL_INNS])
def test_known_inns_are_valid(inn: str) -> None:
    assert valid_inn(inn)


@pytest.mark.parametrize("ogrn", [*REAL_OGRNS, make_ogrnip("30477000000001"[:14])])
def test_known_ogrns_are_valid(ogrn: str) -> None:
    assert valid_ogrn(ogrn)


def test_personal_inns_are_what_the_algorithm_says() -> None:
    # 7712345678: 7*7+7*2+1*4+2*10+3*3+4*5+5*9+6*4+7*6+8*8 = 291 = 26*11+5 -> 5;
    # 77123456785: 3*7+7*7+2*1+4*2+10*3+3*4+5*5+9*6+4*7+6*8+8*5 = 317 = 28*11+9 -> 9.
    assert PERSONAL_INNS[0] == "771234567859"
    assert PERSONAL_INNS[1] == "500100732259"  # a widely quoted example personal INN


@pytest.mark.parametrize("number", [*REAL_INNS, *PERSONAL_INNS])
def test_every_single_digit_change_of_a_real_inn_is_rejected(number: str) -> None:
    assert not any(valid_inn(m) for m in single_digit_changes(number))


@pytest.mark.parametrize("number", REAL_OGRNS)
def test_every_single_digit_change_of_a_real_ogrn_is_rejected(number: str) -> None:
    assert not any(valid_ogrn(m) for m in single_digit_changes(number))


@pytest.mark.parametrize("bad", [
    "", "770708389", "77070838930", "7707083894", "770708389a", " 7707083893",
    "７７０７０８３８９３",  # fullwidth digits are digits to str.isdigit, not to us
    "0000000000", "000000000000", "771234567824", "771234567833",
])
def test_malformed_inns_are_rejected(bad: str) -> None:
    assert not valid_inn(bad)


@pytest.mark.parametrize("bad", [
    "", "102770013219", "10277001321950", "1027700132196", "2027700132195",
    "3027700132195", "102770013219a", "304770000000012",
])
def test_malformed_ogrns_are_rejected(bad: str) -> None:
    assert not valid_ogrn(bad)


def test_an_inn_is_not_an_ogrn_and_back() -> None:
    assert not valid_ogrn(SBERBANK_INN) and not valid_inn(SBERBANK_OGRN)


# ---------------------------------------------------------------- properties



def bodies(n: int, first: str = "0123456789") -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(first), st.text("0123456789", min_size=n - 1,
                                                     max_size=n - 1)).map("".join)


@given(bodies(9, "123456789"))
def test_generated_inn10_valid_and_every_detectable_change_rejected(body: str) -> None:
    inn = make_inn10(body)
    assert valid_inn(inn)
    raw = inn_check(body, W10)[0]
    for mutant in single_digit_changes(inn):
        # Check digit = (sum mod 11) mod 10: the official scheme cannot tell a
        # remainder of 10 from 0, and only such a change may slip through.
        slipped = valid_inn(mutant)
        assert not slipped or {raw, inn_check(mutant, W10)[0]} == {0, 10}
    if raw not in (0, 10):
        assert not any(valid_inn(m) for m in single_digit_changes(inn))


@given(bodies(10, "123456789"))
def test_generated_inn12_valid_and_every_detectable_change_rejected(body: str) -> None:
    inn = make_inn12(body)
    assert valid_inn(inn)
    for mutant in single_digit_changes(inn):
        if valid_inn(mutant):  # both check digits collided 0 <-> 10
            assert {inn_check(inn, W11)[0], inn_check(mutant, W11)[0]} == {0, 10}
            assert {inn_check(inn, W12)[0], inn_check(mutant, W12)[0]} == {0, 10}


@given(bodies(12, "15"))
def test_generated_ogrn_valid_and_every_detectable_change_rejected(body: str) -> None:
    ogrn = make_ogrn(body)
    assert valid_ogrn(ogrn)
    raw = int(body) % 11
    for mutant in single_digit_changes(ogrn):
        assert not valid_ogrn(mutant) or {raw, int(mutant[:12]) % 11} == {0, 10}
    if raw not in (0, 10):
        assert not any(valid_ogrn(m) for m in single_digit_changes(ogrn))


@given(bodies(14, "3"))
def test_generated_ogrnip_valid_and_every_detectable_change_rejected(body: str) -> None:
    ogrnip = make_ogrnip(body)
    assert valid_ogrn(ogrnip)
    raw = int(body) % 13
    for mutant in single_digit_changes(ogrnip):
        assert not valid_ogrn(mutant) or abs(raw - int(mutant[:14]) % 13) == 10
    if raw not in (0, 1, 2, 10, 11, 12):
        assert not any(valid_ogrn(m) for m in single_digit_changes(ogrnip))


@given(st.text(alphabet="0123456789", min_size=10, max_size=12))
def test_valid_inn_agrees_with_the_oracle(s: str) -> None:
    assume(len(s) in (10, 12))
    expected = s == (make_inn10(s[:9]) if len(s) == 10 else make_inn12(s[:10]))
    assert valid_inn(s) == (expected and not s.startswith("00"))


# ---------------------------------------------------------------- finding in letters

SIGNATURE = """
С уважением,
Иван Петров, ведущий инженер
ООО «Ромашка»
ИНН/КПП 7707083893/770701001
ОГРН: 1027700132195
тел. +7 (495) 123-45-67, 89161234567
р/с 40702810438000012345
"""


def test_signature_numbers_are_found() -> None:
    assert find_inns(SIGNATURE) == [SBERBANK_INN]
    assert find_ogrns(SIGNATURE) == [SBERBANK_OGRN]


@pytest.mark.parametrize("text", [
    "ИНН: 7707083893", "ИНН 7707083893", "инн:7707083893", "ИНН7707083893",
    "ИНН/КПП 7707083893/770701001", "ИНН / КПП: 7707083893 / 770701001",
    "ИНН № 7707083893.", "ИНН 7707 083 893", "ИНН 77-07-083893", "INN: 7707083893",
    "(7707083893)", "наш ИНН\u00a07707083893, спасибо",
])
def test_inn_spellings(text: str) -> None:
    assert find_inns(text) == [SBERBANK_INN]


@pytest.mark.parametrize("text", [
    "ИНН 7707083894",  # checksum fails
    "счёт 407028107707083893",  # inside a longer run
    "77070838931",  # one digit too many
    "17707083893",
    "7707 083 893",  # groups count only after the label
    "ИНН 7707083893123",
])
def test_invalid_or_embedded_inns_are_not_found(text: str) -> None:
    assert find_inns(text) == []


def test_inns_are_found_once_in_order() -> None:
    text = f"ИНН {YANDEX_INN}; поставщик {SBERBANK_INN}, ещё раз ИНН {YANDEX_INN}; " \
           f"ИП {PERSONAL_INNS[0]}"
    assert find_inns(text) == [YANDEX_INN, SBERBANK_INN, PERSONAL_INNS[0]]


def test_a_labelled_inn_followed_by_a_kpp_after_a_space() -> None:
    assert find_inns("ИНН 7707083893 КПП 770701001") == [SBERBANK_INN]
    assert find_inns("ИНН 7707083893 770701001") == [SBERBANK_INN]


@pytest.mark.parametrize("text", [
    "ОГРН 1027700132195", "ОГРН: 1027700132195", "ОГРН 1 02 77 00 13 21 95",
    "OGRN 1027700132195", "(1027700132195)",
])
def test_ogrn_spellings(text: str) -> None:
    assert find_ogrns(text) == [SBERBANK_OGRN]


def test_ogrnip_is_found() -> None:
    ogrnip = make_ogrnip("30477000000001")
    assert find_ogrns(f"ИП Сидоров, ОГРНИП: {ogrnip}") == [ogrnip]
    assert find_inns(f"ОГРНИП: {ogrnip}") == []


def test_ogrn_not_taken_from_longer_runs() -> None:
    assert find_ogrns("документ 10277001321950") == []
    assert find_ogrns("1027700132196") == []


# ---------------------------------------------------------------- logins

@pytest.mark.parametrize(("text", "logins"), [
    ("Логин: romashka-admin", ["romashka-admin"]),
    ("логин — ivanov", ["ivanov"]),
    ("Login: i.petrov@romashka.example", ["i.petrov@romashka.example"]),
    ("Учётная запись: ROMASHKA\\ivanov.", ["ROMASHKA\\ivanov"]),
    ("учетная запись - petrov_1", ["petrov_1"]),
    ("Пользователь: «sidorov»", ["sidorov"]),
    ("Имя пользователя: admin", ["admin"]),
    ("Логин в системе: edo_admin", ["edo_admin"]),
    ("Логин: a1\nЛогин: b2\nlogin: a1", ["a1", "b2"]),
])
def test_logins_after_a_label_and_a_colon_or_dash(text: str, logins: list[str]) -> None:
    assert find_logins(text) == logins


@pytest.mark.parametrize("text", [
    "пользователь не может войти: ошибка 500",
    "Пользователи жалуются",
    "логин и пароль не подходят",
    "Логин: нет",
    "мой логин ivanov",  # no colon or dash
    "блогин: x",  # «логин» inside another word
])
def test_no_login_without_a_label_and_separator(text: str) -> None:
    assert find_logins(text) == []
