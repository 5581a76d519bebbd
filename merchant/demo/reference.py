"""The platform's reference data: region groups, customer groups, carriers and the base product catalog."""
import random

from merchant.models import BaseProduct, Carrier, CustomerGroup, RegionGroup, RegionGroupProvince

from .drugs import DRUGS, MANUFACTURERS, approval_number
from .fakes import SEED, ean13

BASE_PRODUCT_COUNT = 175
REGION_GROUPS = [
    ("liangguang", "两广", ["广东省", "广西壮族自治区"]),
    ("jiangzhehu", "江浙沪", ["江苏省", "浙江省", "上海市"]),
    ("jingjinji", "京津冀", ["北京市", "天津市", "河北省"]),
    ("chuanyu", "川渝", ["四川省", "重庆市"]),
]
CUSTOMER_GROUPS = [("chain", "连锁药店"), ("single", "单体药店"), ("clinic", "诊所及基层医疗机构")]
# Carrier codes as used by Taobao/Tmall logistics (logistics.companies.get); the last one is retired.
CARRIERS = [
    ("SF", "顺丰速运"), ("YTO", "圆通速递"), ("ZTO", "中通快递"), ("STO", "申通快递"), ("YUNDA", "韵达速递"),
    ("EMS", "EMS"), ("POSTB", "邮政快递包裹"), ("JD", "京东物流"), ("DBL", "德邦物流"), ("DBKD", "德邦快递"),
    ("HTKY", "百世快递"), ("JTSD", "极兔速递"), ("ZJS", "宅急送"), ("UC", "优速快递"), ("ANE", "安能物流"),
    ("KYE", "跨越速运"), ("TTKDEX", "天天快递"),
]
INACTIVE_CARRIERS = {"TTKDEX"}


def base_product_specs() -> list[dict]:
    """The platform catalog, always the same list; an approval number is per drug and manufacturer."""
    rng = random.Random(SEED)
    specs, seen, barcodes, approvals = [], set(), set(), {}
    while len(specs) < BASE_PRODUCT_COUNT:
        drug = rng.choice(DRUGS)
        name, letter, unit, spec_options, price_range = drug
        spec, maker = rng.choice(spec_options), rng.choice(MANUFACTURERS)
        if (name, spec, maker) in seen:
            continue
        seen.add((name, spec, maker))
        if (name, maker) not in approvals:
            approvals[(name, maker)] = approval_number(rng, letter)
        specs.append({
            "name": name, "spec": spec, "manufacturer": maker, "barcode": ean13(rng, barcodes),
            "approval_number": approvals[(name, maker)], "unit": unit, "price_range": price_range, "drug": drug,
        })
    return specs


def ensure_rows(model, key: str, specs: list[dict], build) -> None:
    """Create the rows of specs that are missing (by the unique field key) with build(spec); never changes
    existing rows. Sets spec["object"] to the row of every spec."""
    keys = [s[key] for s in specs]
    existing = set(model.objects.filter(**{f"{key}__in": keys}).values_list(key, flat=True))
    model.objects.bulk_create([build(s) for s in specs if s[key] not in existing])
    by_key = {getattr(row, key): row for row in model.objects.filter(**{f"{key}__in": keys})}
    for s in specs:
        s["object"] = by_key[s[key]]


def ensure_reference_data() -> dict:
    """Create what is missing of the platform's reference data; never changes existing rows.

    Returns {"region_groups": code -> RegionGroup, "customer_groups": code -> CustomerGroup,
    "carriers": code -> active Carrier, "base_products": base_product_specs() with "object" set,
    "province_regions": province -> region group code}.
    """
    region_groups = {}
    for code, name, provinces in REGION_GROUPS:
        group, _created = RegionGroup.objects.get_or_create(code=code, defaults={"name": name})
        region_groups[code] = group
        RegionGroupProvince.objects.bulk_create(
            [RegionGroupProvince(region_group=group, province=p) for p in provinces], ignore_conflicts=True
        )
    customer_groups = {}
    for code, name in CUSTOMER_GROUPS:
        customer_groups[code], _created = CustomerGroup.objects.get_or_create(code=code, defaults={"name": name})
    Carrier.objects.bulk_create(
        [Carrier(code=code, name=name, is_active=code not in INACTIVE_CARRIERS) for code, name in CARRIERS],
        ignore_conflicts=True,
    )
    carriers = {c.code: c for c in Carrier.objects.filter(code__in=[code for code, _n in CARRIERS], is_active=True)}

    bases = base_product_specs()
    ensure_rows(BaseProduct, "barcode", bases, lambda b: BaseProduct(
        **{k: b[k] for k in ("name", "barcode", "approval_number", "spec", "manufacturer")}
    ))

    province_regions = {}
    for code, _name, provinces in REGION_GROUPS:
        for p in provinces:
            province_regions.setdefault(p, code)
    return {
        "region_groups": region_groups, "customer_groups": customer_groups, "carriers": carriers,
        "base_products": bases, "province_regions": province_regions,
    }
