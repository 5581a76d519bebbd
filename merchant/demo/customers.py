"""The platform's customers (pharmacies and clinics with valid USCCs) and each merchant's ERP codes for them."""
import random

from merchant.models import Customer, ErpCustomerCode, Merchant
from merchant.validators import USCC_ALPHABET, uscc_check_char, validate_uscc

from .accounts import MerchantPlan
from .fakes import BRANDS, SEED, person_name, phone, random_place, street_address
from .reference import ensure_rows

CUSTOMER_COUNT = 100


def customer_specs() -> list[dict]:
    """The platform customers: pharmacies and clinics with valid USCCs, always the same list."""
    rng = random.Random(SEED + 1)
    groups = [("chain", 30), ("single", 45), ("clinic", 20), (None, 5)]
    specs, usccs, names = [], set(), set()
    while len(specs) < CUSTOMER_COUNT:
        province, city, district, division = random_place(rng)
        group = rng.choices([g for g, _w in groups], [w for _g, w in groups])[0]
        brand = rng.choice(BRANDS)
        city_short = city.removesuffix("市")
        if group == "chain":
            name, head = f"{city_short}{brand}大药房连锁有限公司", "91"
        elif group == "clinic":
            name = rng.choice([f"{city_short}{district}{brand}诊所", f"{district}{brand}社区卫生服务站"])
            head = "52"  # private non-enterprise units register with civil affairs (authority 5)
        else:
            name = rng.choice([f"{city_short}{brand}大药房", f"{district}{brand}药店"])
            head = rng.choice(["91", "92"])
        if name in names:
            continue
        body = head + division + "".join(rng.choice(USCC_ALPHABET[:10] * 3 + USCC_ALPHABET[10:]) for _ in range(9))
        uscc = body + uscc_check_char(body)
        if uscc in usccs:
            continue
        validate_uscc(uscc)
        names.add(name)
        usccs.add(uscc)
        contact = person_name(rng)
        specs.append({
            "name": name, "uscc": uscc, "contact": contact, "phone": phone(rng), "province": province,
            "city": city, "district": district, "address": street_address(rng), "group": group,
        })
    return specs


def ensure_customers(customer_groups: dict) -> list[dict]:
    """Create the missing platform customers; returns customer_specs() with "object" set to each Customer."""
    customers = customer_specs()
    ensure_rows(Customer, "uscc", customers, lambda c: Customer(
        name=c["name"], uscc=c["uscc"], contact=c["contact"], phone=c["phone"], province=c["province"],
        customer_group=customer_groups.get(c["group"]),
    ))
    return customers


def save_erp_codes(rng: random.Random, merchant: Merchant, plan: MerchantPlan, customers: list[dict]) -> None:
    """Give plan.erp_codes of the customers the merchant's ERP codes (numbered in plan.erp_code_format)."""
    chosen = rng.sample([c["object"] for c in customers], plan.erp_codes)
    ErpCustomerCode.objects.bulk_create(
        [ErpCustomerCode(merchant=merchant, customer=c, code=plan.erp_code_format.format(i))
         for i, c in enumerate(chosen, start=1)],
        ignore_conflicts=True,
    )
