"""Load the demo data set (SPEC D2): platform reference data, merchants `demo` and `other` with their users,
catalogs, customers' ERP codes and orders.

Idempotent: reference data and users are ensured on every run (passwords reset to the demo password);
a merchant's catalog and orders are generated only while it has neither products nor orders, so a second
run changes nothing else and is fast. Everything is derived from fixed seeds (dates relative to now).
"""
import random
import time as clock
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from merchant.models import (
    AuditEntry, AuditSource, BaseProduct, Batch, Carrier, Customer, CustomerGroup, ErpCustomerCode, ErpStatus,
    GroupPrice, HeldValue, ListingState, Membership, Merchant, Module, ModuleSwitch, Order, OrderItem, OrderSource,
    OrderStatus, Product, RefundStatus, RegionGroup, RegionGroupProvince, Role, Shipment, ShipmentItem, SkuSwitch,
    SwitchKind, TrackingEntry,
)
from merchant.validators import USCC_ALPHABET, uscc_check_char, validate_uscc

SEED = 20240611
PASSWORD = "demo12345"
BASE_PRODUCT_COUNT = 175
CUSTOMER_COUNT = 100
Q2 = Decimal("0.01")

# (name, approval letter, unit, specs, price range in cents)
DRUGS = [
    ("阿莫西林胶囊", "H", "盒", ("0.25g*24粒", "0.5g*20粒"), (600, 2500)),
    ("头孢克肟分散片", "H", "盒", ("0.1g*6片", "50mg*12片"), (1500, 4500)),
    ("布洛芬缓释胶囊", "H", "盒", ("0.3g*20粒", "0.3g*24粒"), (900, 2800)),
    ("对乙酰氨基酚片", "H", "盒", ("0.5g*12片", "0.5g*20片"), (300, 1500)),
    ("复方氨酚烷胺片", "H", "盒", ("12片", "18片"), (800, 2200)),
    ("感冒灵颗粒", "Z", "盒", ("10g*9袋", "10g*12袋"), (900, 2000)),
    ("板蓝根颗粒", "Z", "袋", ("10g*20袋", "5g*30袋"), (800, 2500)),
    ("连花清瘟胶囊", "Z", "盒", ("0.35g*24粒", "0.35g*36粒"), (1200, 3500)),
    ("藿香正气水", "Z", "盒", ("10ml*10支",), (500, 1500)),
    ("六味地黄丸", "Z", "瓶", ("200丸", "360丸"), (1200, 4000)),
    ("蒙脱石散", "H", "盒", ("3g*10袋", "3g*12袋"), (1000, 3000)),
    ("奥美拉唑肠溶胶囊", "H", "盒", ("20mg*14粒", "20mg*28粒"), (800, 4500)),
    ("盐酸二甲双胍片", "H", "盒", ("0.5g*60片", "0.25g*48片"), (500, 3000)),
    ("硝苯地平缓释片", "H", "盒", ("20mg*30片", "10mg*24片"), (700, 3500)),
    ("苯磺酸氨氯地平片", "H", "盒", ("5mg*7片", "5mg*28片"), (1000, 5000)),
    ("阿托伐他汀钙片", "H", "盒", ("20mg*7片", "10mg*14片"), (1500, 6000)),
    ("阿司匹林肠溶片", "H", "盒", ("100mg*30片", "25mg*100片"), (400, 2500)),
    ("氯雷他定片", "H", "盒", ("10mg*6片", "10mg*12片"), (800, 3000)),
    ("盐酸西替利嗪片", "H", "盒", ("10mg*12片", "10mg*24片"), (900, 3200)),
    ("维生素C片", "H", "瓶", ("0.1g*100片",), (300, 1200)),
    ("复合维生素B片", "H", "瓶", ("100片",), (300, 1000)),
    ("葡萄糖酸钙口服溶液", "H", "盒", ("10ml*12支", "10ml*24支"), (1500, 4500)),
    ("健胃消食片", "Z", "盒", ("0.8g*32片", "0.5g*36片"), (800, 2500)),
    ("双黄连口服液", "Z", "盒", ("10ml*10支",), (1200, 3000)),
    ("小柴胡颗粒", "Z", "盒", ("10g*10袋", "4g*24袋"), (1000, 2800)),
    ("川贝枇杷膏", "Z", "瓶", ("150ml", "300ml"), (1500, 5000)),
    ("复方甘草片", "H", "瓶", ("100片",), (300, 1200)),
    ("氢溴酸右美沙芬糖浆", "H", "瓶", ("100ml", "120ml"), (1000, 3000)),
    ("盐酸左氧氟沙星片", "H", "盒", ("0.1g*12片", "0.5g*4片"), (900, 3500)),
    ("罗红霉素胶囊", "H", "盒", ("150mg*12粒", "150mg*24粒"), (600, 2500)),
    ("甲硝唑片", "H", "瓶", ("0.2g*100片",), (300, 1000)),
    ("红霉素软膏", "H", "支", ("1%*10g",), (300, 800)),
    ("莫匹罗星软膏", "H", "支", ("2%*5g", "2%*10g"), (1500, 3500)),
    ("活血止痛膏", "Z", "盒", ("7cm*10cm*4贴", "7cm*10cm*8贴"), (800, 2500)),
    ("马来酸依那普利片", "H", "盒", ("10mg*16片", "5mg*32片"), (500, 2500)),
    ("缬沙坦胶囊", "H", "盒", ("80mg*7粒", "80mg*28粒"), (1500, 6000)),
    ("格列美脲片", "H", "盒", ("2mg*30片", "1mg*60片"), (1200, 5000)),
    ("瑞舒伐他汀钙片", "H", "盒", ("10mg*7片", "5mg*28片"), (1500, 6500)),
    ("硫酸氢氯吡格雷片", "H", "盒", ("75mg*7片", "25mg*20片"), (1800, 9000)),
    ("雷贝拉唑钠肠溶片", "H", "盒", ("10mg*14片", "20mg*7片"), (1500, 5000)),
    ("多潘立酮片", "H", "盒", ("10mg*30片", "10mg*42片"), (1000, 3000)),
    ("枸橼酸莫沙必利片", "H", "盒", ("5mg*24片",), (1500, 4000)),
    ("乳果糖口服溶液", "H", "瓶", ("100ml:66.7g", "200ml:133.4g"), (2500, 6000)),
    ("开塞露", "H", "盒", ("20ml*2支", "20ml*10支"), (200, 1200)),
    ("复方丹参滴丸", "Z", "瓶", ("27mg*180丸", "27mg*150丸"), (2000, 5000)),
    ("银杏叶片", "Z", "盒", ("19.2mg:4.8mg*24片", "9.6mg:2.4mg*48片"), (1500, 4500)),
    ("速效救心丸", "Z", "盒", ("40mg*60粒*3瓶",), (2000, 4500)),
    ("牛黄解毒片", "Z", "盒", ("24片", "48片"), (300, 1500)),
    ("胃苏颗粒", "Z", "盒", ("15g*9袋", "5g*9袋"), (1500, 3500)),
    ("益母草颗粒", "Z", "盒", ("15g*10袋",), (800, 2000)),
    ("逍遥丸", "Z", "瓶", ("200丸",), (800, 2500)),
    ("补中益气丸", "Z", "瓶", ("200丸", "360丸"), (1000, 3000)),
    ("西瓜霜润喉片", "Z", "盒", ("0.6g*36片", "1.2g*12片"), (600, 1800)),
    ("盐酸氨溴索口服溶液", "H", "瓶", ("100ml:0.6g", "60ml:0.36g"), (1200, 3500)),
    ("孟鲁司特钠咀嚼片", "H", "盒", ("4mg*5片", "5mg*10片"), (2500, 8000)),
    ("布地奈德鼻喷雾剂", "H", "支", ("64μg*120喷",), (4000, 9000)),
    ("玻璃酸钠滴眼液", "H", "支", ("0.1%*5ml", "0.3%*5ml"), (2000, 5000)),
    ("左氧氟沙星滴眼液", "H", "支", ("5ml:24.4mg",), (1500, 3500)),
    ("磷酸奥司他韦胶囊", "H", "盒", ("75mg*10粒",), (3500, 9000)),
    ("复方鱼腥草片", "Z", "盒", ("0.26g*24片", "0.26g*48片"), (600, 1800)),
    ("维生素AD滴剂", "H", "盒", ("30粒", "60粒"), (2000, 5000)),
    ("叶酸片", "H", "盒", ("0.4mg*31片", "0.4mg*93片"), (1000, 4000)),
    ("碳酸钙D3片", "H", "瓶", ("600mg*60片", "600mg*100片"), (2500, 7000)),
    ("甲钴胺片", "H", "盒", ("0.5mg*20片", "0.5mg*50片"), (1500, 5000)),
    ("谷维素片", "H", "瓶", ("10mg*100片",), (300, 1000)),
    ("酮康唑乳膏", "H", "支", ("2%*10g", "2%*15g"), (800, 2500)),
    ("硝酸咪康唑乳膏", "H", "支", ("2%*15g", "2%*20g"), (800, 2500)),
    ("盐酸特比萘芬乳膏", "H", "支", ("1%*10g", "1%*15g"), (800, 2800)),
]
MANUFACTURERS = [
    "广州康源制药有限公司", "江苏恒瑞康药业有限公司", "浙江华信药业股份有限公司", "北京同德制药有限公司",
    "上海百草药业有限公司", "石家庄济民制药有限公司", "哈尔滨安泰药业股份有限公司", "成都瑞康制药有限公司",
    "武汉福元药业有限公司", "山东鲁安制药有限公司", "西安汉康药业有限公司", "重庆恒安制药有限公司",
    "深圳南华医药股份有限公司", "昆明滇草药业有限公司",
]
# Firms that are not in the platform catalog: their products cannot match a base product.
UNLISTED_MANUFACTURERS = ["湖南湘和堂药业有限公司", "吉林长白山参药有限公司", "安徽九华制药有限公司"]
APPROVAL_PREFIXES = ["1102", "3102", "4402", "3202", "3302", "2002", "2005", "1998", "5102", "4201"]

# province -> (city, district, administrative division code)
PROVINCES = {
    "广东省": [("广州市", "天河区", "440106"), ("深圳市", "南山区", "440305"), ("佛山市", "南海区", "440605"),
              ("东莞市", "东城街道", "441900")],
    "广西壮族自治区": [("南宁市", "青秀区", "450103"), ("桂林市", "七星区", "450305")],
    "江苏省": [("南京市", "鼓楼区", "320106"), ("苏州市", "姑苏区", "320508"), ("无锡市", "梁溪区", "320213")],
    "浙江省": [("杭州市", "西湖区", "330106"), ("宁波市", "鄞州区", "330212"), ("温州市", "鹿城区", "330302")],
    "上海市": [("上海市", "浦东新区", "310115"), ("上海市", "徐汇区", "310104")],
    "北京市": [("北京市", "朝阳区", "110105"), ("北京市", "海淀区", "110108")],
    "天津市": [("天津市", "和平区", "120101")],
    "河北省": [("石家庄市", "长安区", "130102"), ("保定市", "竞秀区", "130602")],
    "四川省": [("成都市", "武侯区", "510107")],
    "重庆市": [("重庆市", "渝中区", "500103")],
    "湖北省": [("武汉市", "江汉区", "420103")],
    "湖南省": [("长沙市", "岳麓区", "430104")],
    "山东省": [("济南市", "历下区", "370102"), ("青岛市", "市南区", "370202")],
    "福建省": [("福州市", "鼓楼区", "350102"), ("厦门市", "思明区", "350203")],
}
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
CARRIER_WEIGHTS = {"SF": 25, "ZTO": 18, "YTO": 15, "STO": 8, "YUNDA": 10, "JD": 10, "EMS": 5, "DBL": 6, "KYE": 3}
TRACKING_PREFIX = {"SF": "SF", "YTO": "YT", "JD": "JDVA", "DBL": "DPK", "EMS": "11", "STO": "77", "YUNDA": "43",
                   "ZTO": "7", "KYE": "KY"}

SURNAMES = "张王李赵陈刘杨黄周吴徐孙马朱胡郭何林罗高梁宋郑谢"
GIVEN_NAMES = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
               "秀英", "建国", "志强", "晓燕", "海燕", "丹", "俊杰", "婷婷", "文博", "子涵"]
BRANDS = ["康源", "仁济", "百姓", "益丰", "安康", "同济", "惠民", "健生", "德仁", "和平", "万家", "福寿", "济世",
          "恒春", "佳和", "普康", "瑞祥", "永信", "众生", "大参"]
STREETS = ["中山路", "人民路", "解放路", "建设路", "和平路", "新华路", "文化路", "东风路", "长江路", "黄河路",
           "青年路", "滨江大道", "科技园路", "体育西路"]
BUYER_MESSAGES = ["请尽快发货", "发票随货寄出", "请随货附药检报告", "效期要一年以上", "周末不收货，请工作日送达",
                  "外箱请加固"]

ERP_STEP_GAPS = {  # hours after the previous ERP step (range)
    ErpStatus.PICKING: (0.5, 4), ErpStatus.OUT_OF_WAREHOUSE: (2, 10), ErpStatus.DELIVERING: (1, 6),
    ErpStatus.SIGNED: (18, 72),
}
ERP_FLOW = [ErpStatus.SUBMITTED, ErpStatus.PICKING, ErpStatus.OUT_OF_WAREHOUSE, ErpStatus.DELIVERING, ErpStatus.SIGNED]
# What the demo ERP sends with each status (the ERP's own words, stored as received).
ERP_MESSAGES = {
    ErpStatus.SUBMITTED: "订单已提交至商家仓库",
    ErpStatus.PICKING: "订单已处理，商家拣货中",
    ErpStatus.OUT_OF_WAREHOUSE: "货物已出库，{carrier} 运单号 {tracking_no}",
    ErpStatus.DELIVERING: "快递员正在派送，请保持电话畅通",
    ErpStatus.SIGNED: "已签收，签收人：{receiver}",
}
PLATFORM_STATUS = {
    OrderStatus.PENDING_PAYMENT: "WAIT_BUYER_PAY",
    OrderStatus.AWAITING_SHIPMENT: "WAIT_SELLER_SEND_GOODS",
    OrderStatus.PARTIALLY_SHIPPED: "SELLER_CONSIGNED_PART",
    OrderStatus.SHIPPED: "WAIT_BUYER_CONFIRM_GOODS",
    OrderStatus.COMPLETED: "TRADE_FINISHED",
    OrderStatus.CANCELLED: "TRADE_CLOSED",
}

S = OrderStatus
# Order status weights by order age: (max age in hours, {status: weight}).
STATUS_BY_AGE = [
    (6, {S.PENDING_PAYMENT: 35, S.AWAITING_SHIPMENT: 55, S.CANCELLED: 10}),
    (24, {S.PENDING_PAYMENT: 20, S.AWAITING_SHIPMENT: 45, S.PARTIALLY_SHIPPED: 5, S.SHIPPED: 20, S.CANCELLED: 10}),
    (72, {S.PENDING_PAYMENT: 4, S.AWAITING_SHIPMENT: 28, S.PARTIALLY_SHIPPED: 8, S.SHIPPED: 40, S.COMPLETED: 10,
          S.CANCELLED: 10}),
    (168, {S.AWAITING_SHIPMENT: 10, S.PARTIALLY_SHIPPED: 5, S.SHIPPED: 25, S.COMPLETED: 50, S.CANCELLED: 10}),
    (None, {S.SHIPPED: 3, S.COMPLETED: 85, S.CANCELLED: 12}),
]


@dataclass(frozen=True)
class MerchantPlan:
    code: str
    name: str
    users: tuple  # (username, role)
    matched_products: int
    pending_products: int
    orders: int
    erp_codes: int
    erp_code_format: str
    product_id_format: str
    storefront_prefix: str
    settings: dict = field(default_factory=dict)
    extras: bool = False  # switches, held values, group prices


MERCHANTS = [
    MerchantPlan(
        code="demo", name="示例医药 Demo Pharma",
        users=(("demo_owner", Role.OWNER), ("demo_operator", Role.OPERATOR), ("demo_viewer", Role.VIEWER)),
        matched_products=175, pending_products=25, orders=500, erp_codes=50, erp_code_format="KH{:05d}",
        product_id_format="P{:05d}", storefront_prefix="DM",
        settings={"safety_stock": 2, "expiry_exclusion_days": 30, "low_stock_threshold": 10}, extras=True,
    ),
    MerchantPlan(
        code="other", name="他山医药 Other Pharma", users=(("other_owner", Role.OWNER),),
        matched_products=12, pending_products=3, orders=20, erp_codes=10, erp_code_format="C-{:04d}",
        product_id_format="OT-{:04d}", storefront_prefix="OT",
    ),
]


def money(value) -> Decimal:
    return Decimal(value).quantize(Q2, rounding=ROUND_HALF_UP)


def cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Q2)


def ean13(rng: random.Random, used: set) -> str:
    """A Chinese (69x prefix) EAN-13 barcode with a correct check digit, not in used."""
    while True:
        body = "69" + "".join(rng.choice("0123456789") for _ in range(10))
        total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
        code = body + str((10 - total % 10) % 10)
        if code not in used:
            used.add(code)
            return code


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)


def phone(rng: random.Random) -> str:
    return "1" + rng.choice("35789") + "".join(rng.choice("0123456789") for _ in range(9))


def street_address(rng: random.Random) -> str:
    building = rng.choice(["", f"{rng.randint(1, 30)}栋{rng.randint(101, 2808)}室"])
    return f"{rng.choice(STREETS)}{rng.randint(1, 999)}号{building}"


# ---------------------------------------------------------------- platform reference data

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
            approvals[(name, maker)] = f"国药准字{letter}{rng.choice(APPROVAL_PREFIXES)}{rng.randint(0, 9999):04d}"
        specs.append({
            "name": name, "spec": spec, "manufacturer": maker, "barcode": ean13(rng, barcodes),
            "approval_number": approvals[(name, maker)], "unit": unit, "price_range": price_range, "drug": drug,
        })
    return specs


def customer_specs() -> list[dict]:
    """The platform customers: pharmacies and clinics with valid USCCs, always the same list."""
    rng = random.Random(SEED + 1)
    groups = [("chain", 30), ("single", 45), ("clinic", 20), (None, 5)]
    specs, usccs, names = [], set(), set()
    while len(specs) < CUSTOMER_COUNT:
        province = rng.choice(list(PROVINCES))
        city, district, division = rng.choice(PROVINCES[province])
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


def ensure_reference_data() -> dict:
    """Create what is missing of the platform's reference data; never changes existing rows."""
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
    barcodes = [b["barcode"] for b in bases]
    existing = set(BaseProduct.objects.filter(barcode__in=barcodes).values_list("barcode", flat=True))
    BaseProduct.objects.bulk_create([
        BaseProduct(**{k: b[k] for k in ("name", "barcode", "approval_number", "spec", "manufacturer")})
        for b in bases if b["barcode"] not in existing
    ])
    by_barcode = {bp.barcode: bp for bp in BaseProduct.objects.filter(barcode__in=barcodes)}
    for b in bases:
        b["object"] = by_barcode[b["barcode"]]

    customers = customer_specs()
    existing = set(Customer.objects.filter(uscc__in=[c["uscc"] for c in customers]).values_list("uscc", flat=True))
    Customer.objects.bulk_create([
        Customer(name=c["name"], uscc=c["uscc"], contact=c["contact"], phone=c["phone"], province=c["province"],
                 customer_group=customer_groups.get(c["group"]))
        for c in customers if c["uscc"] not in existing
    ])
    by_uscc = {c.uscc: c for c in Customer.objects.filter(uscc__in=[c["uscc"] for c in customers])}
    for c in customers:
        c["object"] = by_uscc[c["uscc"]]

    province_regions = {}
    for code, _name, provinces in REGION_GROUPS:
        for p in provinces:
            province_regions.setdefault(p, code)
    return {
        "region_groups": region_groups, "customer_groups": customer_groups, "carriers": carriers,
        "base_products": bases, "customers": customers, "province_regions": province_regions,
    }


def ensure_users() -> dict:
    """The platform admin and every merchant's users, with the demo password; returns username -> user."""
    User = get_user_model()
    # One hash for all demo accounts: PBKDF2 costs ~0.5 s per call, and these passwords are public anyway.
    hashed = make_password(PASSWORD)
    users = {}
    admin, _created = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.password = hashed
    admin.save()
    users["admin"] = admin
    for plan in MERCHANTS:
        merchant, _created = Merchant.objects.get_or_create(
            code=plan.code, defaults={"name": plan.name, **plan.settings}
        )
        for username, role in plan.users:
            user, _created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_active = True
            user.password = hashed
            user.save()
            Membership.objects.update_or_create(user=user, defaults={"merchant": merchant, "role": role})
            users[username] = user
    return users


# ---------------------------------------------------------------- one merchant's catalog

@dataclass
class ProductPlan:
    product: Product
    price_range: tuple
    batches: list = field(default_factory=list)
    group_prices: list = field(default_factory=list)


def _batches(rng: random.Random, today) -> list[Batch]:
    batches = []
    for j in range(rng.choices([1, 2, 3, 4], [25, 35, 25, 15])[0]):
        kind = rng.choices(["normal", "expiring", "expired", "empty"], [60, 15, 12, 13])[0]
        if kind == "expiring":
            expiry = today + timedelta(days=rng.randint(10, 89))
        elif kind == "expired":
            expiry = today - timedelta(days=rng.randint(5, 200))
        else:
            expiry = today + timedelta(days=rng.randint(120, 900))
        shelf_life = rng.choice([730, 1095])
        production = expiry - timedelta(days=shelf_life)
        if production > today:
            production = expiry - timedelta(days=1095)
        quantity = 0 if kind == "empty" else rng.randint(20, 800)
        batches.append(Batch(batch_no=f"{production:%y%m%d}{j + 1:02d}", production_date=production,
                             expiry_date=expiry, quantity=quantity))
    return batches


def build_catalog(rng: random.Random, merchant: Merchant, plan: MerchantPlan, ref: dict, today) -> list[ProductPlan]:
    """Products matched to base products (fields copied, so the exact match holds) and unmatched ones."""
    plans = []
    bases = rng.sample(ref["base_products"], plan.matched_products)
    for i, base in enumerate(bases):
        bp = base["object"]
        plans.append(ProductPlan(
            product=Product(
                merchant=merchant, name=bp.name, barcode=bp.barcode, approval_number=bp.approval_number, spec=bp.spec,
                manufacturer=bp.manufacturer, unit=base["unit"], base_product=bp,
            ),
            price_range=base["price_range"],
        ))
    used_barcodes = {b["barcode"] for b in ref["base_products"]}
    for i in range(plan.pending_products):
        if i % 2 == 0:
            # Same drug as a catalog entry, but the ERP writes the spec differently: no exact match.
            base = rng.choice(ref["base_products"])
            name, barcode, approval = base["name"], base["barcode"], base["approval_number"]
            unit, price_range, maker = base["unit"], base["price_range"], base["manufacturer"]
            spec = base["spec"].replace("*", "×") if "*" in base["spec"] else f"{base['spec']}/{unit}"
        else:
            name, letter, unit, specs, price_range = rng.choice(DRUGS)
            spec, maker = rng.choice(specs), rng.choice(UNLISTED_MANUFACTURERS)
            barcode = ean13(rng, used_barcodes)
            approval = f"国药准字{letter}{rng.choice(APPROVAL_PREFIXES)}{rng.randint(0, 9999):04d}"
        plans.append(ProductPlan(
            product=Product(merchant=merchant, name=name, barcode=barcode, approval_number=approval, spec=spec,
                            manufacturer=maker, unit=unit, base_product=None),
            price_range=price_range,
        ))
    rng.shuffle(plans)

    region_groups, customer_groups = list(ref["region_groups"].values()), ref["customer_groups"]
    for n, pp in enumerate(plans, start=1):
        p = pp.product
        p.erp_product_id = plan.product_id_format.format(n if plan.code != "demo" else 10000 + n)
        p.default_price = cents(rng.randint(*pp.price_range))
        if rng.random() < 0.85:
            p.suggested_retail_price = money(p.default_price * Decimal(str(round(rng.uniform(1.2, 1.6), 2))))
        if p.base_product is None:
            p.stock = rng.choice([0, rng.randint(1, 500)])
            p.listing_state = ListingState.PENDING_REVIEW
            continue
        p.batch_managed = rng.random() < 0.25
        if p.batch_managed:
            pp.batches = _batches(rng, today)
            p.stock = sum(b.quantity for b in pp.batches if b.is_on_sale(today))
        else:
            r = rng.random()
            p.stock = 0 if r < 0.12 else rng.randint(1, 9) if r < 0.2 else rng.randint(10, 3000)
        if p.stock > 0:
            p.listing_state = rng.choices(
                [ListingState.LISTED, ListingState.DELISTED, ListingState.READY], [85, 10, 5]
            )[0]
        else:
            p.listing_state = rng.choices([ListingState.READY, ListingState.DELISTED], [70, 30])[0]
        if plan.extras and rng.random() < 0.3:
            for group in rng.sample(region_groups, rng.randint(1, 2)):
                pp.group_prices.append(GroupPrice(
                    region_group=group, price=money(p.default_price * Decimal(str(round(rng.uniform(0.93, 0.99), 2)))),
                ))
            if rng.random() < 0.6:
                pp.group_prices.append(GroupPrice(customer_group=customer_groups["chain"],
                                                  price=money(p.default_price * Decimal("0.92"))))
            if rng.random() < 0.3:
                pp.group_prices.append(GroupPrice(customer_group=customer_groups["clinic"],
                                                  price=money(p.default_price * Decimal("0.96"))))
        for gp in pp.group_prices:
            gp.price = max(gp.price, Q2)
    return plans


def save_catalog(plans: list[ProductPlan]) -> None:
    Product.objects.bulk_create([pp.product for pp in plans])
    batches, prices = [], []
    for pp in plans:
        for b in pp.batches:
            b.product = pp.product
            batches.append(b)
        for gp in pp.group_prices:
            gp.product = pp.product
            prices.append(gp)
    Batch.objects.bulk_create(batches)
    GroupPrice.objects.bulk_create(prices)


def build_switches(rng: random.Random, merchant: Merchant, plans: list[ProductPlan], users: dict, now) -> None:
    """A few SKUs paused (some until a time, with an ERP value held meanwhile) and the price module off."""
    owner, operator = users["demo_owner"], users["demo_operator"]
    candidates = [pp.product for pp in plans
                  if pp.product.listing_state == ListingState.LISTED and not pp.product.batch_managed]
    chosen = rng.sample(candidates, 8)
    switches, held, audit = [], [], []
    for i, product in enumerate(chosen):
        kind = SwitchKind.STOCK if i < 6 else SwitchKind.PRICE
        until = now + timedelta(hours=rng.choice([1, 4, 24])) if i % 2 == 0 else None
        changed_at = now - timedelta(minutes=rng.randint(5, 600))
        reason = "手动加库存，允许超卖几小时" if kind == SwitchKind.STOCK else "促销期间手动定价"
        switches.append(SkuSwitch(product=product, kind=kind, enabled=False, paused_until=until, changed_by=operator,
                                  changed_at=changed_at, reason=reason))
        label = f"off until {timezone.localtime(until):%Y-%m-%d %H:%M}" if until else "off"
        audit.append(AuditEntry(merchant=merchant, source=AuditSource.USER, actor=operator, entity="product",
                                entity_id=product.pk, field=f"switch[{kind}]", old_value="on", new_value=label,
                                reason=reason))
        if i < 3:  # the ERP kept sending stock while paused: held, not lost (SPEC M11)
            held.append(HeldValue(merchant=merchant, product=product, field="stock", source=AuditSource.ERP,
                                  value=max(product.stock - rng.randint(1, product.stock), 0),
                                  received_at=changed_at + timedelta(minutes=rng.randint(1, 4))))
    SkuSwitch.objects.bulk_create(switches)

    off_at = now - timedelta(hours=6)
    ModuleSwitch.objects.bulk_create(
        [ModuleSwitch(merchant=merchant, module=m) for m in Module.values if m != Module.PRICES]
        + [ModuleSwitch(merchant=merchant, module=Module.PRICES, enabled=False, changed_by=owner, changed_at=off_at,
                        reason="调价期间暂停ERP价格同步")],
        ignore_conflicts=True,
    )
    prices_switch = ModuleSwitch.objects.get(merchant=merchant, module=Module.PRICES)
    audit.append(AuditEntry(merchant=merchant, source=AuditSource.USER, actor=owner, entity="module_switch",
                            entity_id=prices_switch.pk, field="enabled", old_value="on", new_value="off",
                            reason=prices_switch.reason))
    for product in rng.sample([p for p in candidates if p not in chosen], 4):
        held.append(HeldValue(merchant=merchant, product=product, field="default_price", source=AuditSource.ERP,
                              value=str(money(product.default_price * Decimal("1.05"))),
                              received_at=off_at + timedelta(minutes=rng.randint(5, 300))))
    HeldValue.objects.bulk_create(held)
    AuditEntry.objects.bulk_create(audit)


def save_erp_codes(rng: random.Random, merchant: Merchant, plan: MerchantPlan, ref: dict) -> None:
    customers = rng.sample([c["object"] for c in ref["customers"]], plan.erp_codes)
    ErpCustomerCode.objects.bulk_create(
        [ErpCustomerCode(merchant=merchant, customer=c, code=plan.erp_code_format.format(i))
         for i, c in enumerate(customers, start=1)],
        ignore_conflicts=True,
    )


# ---------------------------------------------------------------- one merchant's orders

@dataclass
class OrderPlan:
    order: Order
    items: list = field(default_factory=list)
    shipments: list = field(default_factory=list)  # (Shipment, [(item index, quantity, batch tuple or None)])
    tracking: list = field(default_factory=list)


class OrderBuilder:
    """Builds orders whose amounts, shipments and ERP timelines agree with their status."""

    def __init__(self, seed: str, *, merchant, plan, catalog, ref, users, now):
        self.seed, self.merchant, self.plan, self.ref, self.now = seed, merchant, plan, ref, now
        self.rng = random.Random(seed)
        self.tz = timezone.get_current_timezone()
        self.operator = users.get("demo_operator") if plan.code == "demo" else users.get(plan.users[0][0])
        self.sellable = [pp for pp in catalog if pp.product.listing_state != ListingState.PENDING_REVIEW]
        self.listed = [pp for pp in self.sellable if pp.product.listing_state == ListingState.LISTED] or self.sellable
        self.carrier_codes = [c for c in CARRIER_WEIGHTS if c in ref["carriers"]]
        self.used_numbers = set()

    def _created_at(self) -> datetime:
        rng = self.rng
        # More orders on recent days (a growing shop), during business hours.
        days_ago = int(40 * (1 - rng.random() ** 0.5))
        day = timezone.localdate(self.now) - timedelta(days=days_ago)
        hour = rng.choices(range(24), [1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 6, 7, 9, 10, 9, 8, 6, 6, 6, 5, 3, 2])[0]
        created = datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), tzinfo=self.tz)
        latest = self.now - timedelta(minutes=10)
        if created > latest:
            created = (latest - timedelta(minutes=rng.randint(0, 600))).replace(microsecond=0)
        return created

    def _status(self, created: datetime) -> str:
        age_hours = (self.now - created).total_seconds() / 3600
        for limit, weights in STATUS_BY_AGE:
            if limit is None or age_hours < limit:
                return self.rng.choices(list(weights), list(weights.values()))[0]

    def _order_no(self, source: str) -> str:
        if source == OrderSource.MARKETPLACE:
            while True:  # Taobao trade ids are 18-19 digit numbers
                number = str(self.rng.randint(10**18, 10**19 - 1))
                if number not in self.used_numbers:
                    self.used_numbers.add(number)
                    return number
        return ""  # numbered by day once all orders are built, so numbers follow creation time

    def _tracking_no(self, carrier_code: str) -> str:
        prefix = TRACKING_PREFIX.get(carrier_code, "")
        while True:
            number = prefix + "".join(self.rng.choice("0123456789") for _ in range(14 - len(prefix) + 1))
            if number not in self.used_numbers:
                self.used_numbers.add(number)
                return number

    def _price_for(self, pp: ProductPlan, customer_spec: dict | None) -> Decimal:
        """Customer-group price, else region-group price, else default price (SPEC M5)."""
        if customer_spec is None:
            return pp.product.suggested_retail_price or money(pp.product.default_price * Decimal("1.3"))
        region = self.ref["province_regions"].get(customer_spec["province"])
        customer_price = region_price = None
        for gp in pp.group_prices:
            if gp.customer_group_id is not None and gp.customer_group.code == customer_spec["group"]:
                customer_price = gp.price
            if gp.region_group_id is not None and gp.region_group.code == region:
                region_price = gp.price
        return customer_price or region_price or pp.product.default_price

    def _batch_for(self, pp: ProductPlan, shipped: datetime):
        """(batch number, production date, expiry date) shipped for a line, or None when not recorded."""
        rng = self.rng
        if rng.random() < 0.25:
            return None
        ship_day = timezone.localtime(shipped, self.tz).date()
        usable = [b for b in pp.batches if b.expiry_date > ship_day + timedelta(days=30)]
        if usable:
            b = rng.choice(usable)
            return b.batch_no, b.production_date, b.expiry_date
        production = ship_day - timedelta(days=rng.randint(30, 400))
        expiry = production + timedelta(days=rng.choice([730, 1095]))
        return f"{production:%y%m%d}{rng.randint(1, 9):02d}", production, expiry

    def build(self, count: int) -> list[OrderPlan]:
        plans = [self.build_one(n) for n in range(count)]
        # Make sure every status shows up in the demo, whatever the dice said.
        present = {p.order.status for p in plans}
        if count >= 50:
            for status in OrderStatus.values:
                if status not in present:
                    plans.append(self.build_one(len(plans), status=status))
        plans.sort(key=lambda p: p.order.created_at)
        serials = {}
        for p in plans:
            if p.order.source == OrderSource.STOREFRONT:
                day = timezone.localtime(p.order.created_at, self.tz).date()
                serials[day] = serials.get(day, 0) + 1
                p.order.order_no = f"{self.plan.storefront_prefix}{day:%Y%m%d}{serials[day]:04d}"
        return plans

    def build_one(self, n: int, status: str | None = None) -> OrderPlan:
        # One generator per order: an order that falls into another status bucket as time passes
        # does not reshuffle all the orders after it.
        self.rng = random.Random(f"{self.seed}:{n}")
        rng, now = self.rng, self.now
        source = rng.choices([OrderSource.STOREFRONT, OrderSource.MARKETPLACE], [60, 40])[0]
        created = self._created_at()
        if status is not None:
            created = min(created, now - timedelta(days=5)) if status in (S.COMPLETED,) else created
        status = status or self._status(created)
        marketplace = source == OrderSource.MARKETPLACE
        customer = None if marketplace else rng.choice(self.ref["customers"])
        order = Order(merchant=self.merchant, source=source, status=status, created_at=created,
                      order_no=self._order_no(source))
        plan = OrderPlan(order=order)

        # Items
        pool = self.listed if marketplace else self.sellable
        k = min(len(pool), rng.choices([1, 2, 3, 4], [70, 20, 7, 3] if marketplace else [35, 30, 20, 15])[0])
        for line_no, pp in enumerate(rng.sample(pool, k), start=1):
            if marketplace:
                qty = rng.choices([1, 2, 3], [70, 20, 10])[0]
            else:
                qty = rng.choice([1, 2, 3, 5, 6, 10, 12, 20, 30, 50])
            plan.items.append((pp, OrderItem(
                line_no=line_no, product=pp.product, erp_product_id=pp.product.erp_product_id,
                item_name=pp.product.name, spec=pp.product.spec, quantity=qty, unit_price=self._price_for(pp, customer),
            )))
        if status == S.PARTIALLY_SHIPPED and len(plan.items) == 1 and plan.items[0][1].quantity < 2:
            plan.items[0][1].quantity = 2
        for _pp, item in plan.items:
            item.amount = money(item.unit_price * item.quantity)

        # Amounts
        goods = sum(item.amount for _pp, item in plan.items)
        if marketplace:
            shipping = Decimal("0.00") if goods >= 49 or rng.random() < 0.6 else Decimal("6.00")
            discount = Decimal(rng.choice([5, 10, 20])) if rng.random() < 0.3 and goods > 30 else Decimal("0.00")
        else:
            shipping = Decimal("0.00") if goods >= 800 else Decimal("15.00")
            discount = money(goods * Decimal("0.02")) if rng.random() < 0.15 else Decimal("0.00")
        order.goods_amount, order.shipping_fee, order.discount_amount = money(goods), shipping, money(discount)
        order.total_amount = order.goods_amount + order.shipping_fee - order.discount_amount

        # Shipping address
        if customer:
            order.customer = customer["object"]
            order.receiver_name, order.receiver_phone = customer["contact"], customer["phone"]
            order.receiver_province, order.receiver_city = customer["province"], customer["city"]
            order.receiver_district, order.receiver_address = customer["district"], customer["address"]
        else:
            order.buyer_nick = rng.choice([
                f"tb{rng.randint(10**8, 10**9 - 1)}", f"{rng.choice(BRANDS)}小{rng.choice(SURNAMES)}",
                f"健康生活{rng.randint(100, 9999)}",
            ])
            province = rng.choice(list(PROVINCES))
            city, district, _code = rng.choice(PROVINCES[province])
            order.receiver_name, order.receiver_phone = person_name(rng), phone(rng)
            order.receiver_province, order.receiver_city, order.receiver_district = province, city, district
            order.receiver_address = street_address(rng)
        if rng.random() < 0.12:
            order.buyer_message = rng.choice(BUYER_MESSAGES)

        # Invoice
        if customer and rng.random() < 0.4:
            order.invoice_type = "增值税专用发票" if customer["group"] == "chain" else rng.choice(["增值税普通发票", "增值税电子普通发票"])
            order.invoice_title, order.invoice_tax_no = customer["name"], customer["uscc"]
            order.invoice_email = f"fp{rng.randint(100, 999)}@example.com"
        elif marketplace and rng.random() < 0.1:
            order.invoice_type, order.invoice_title = "增值税电子普通发票", "个人"
            order.invoice_email = f"{order.buyer_nick}@example.com"

        self._timeline(plan, status, marketplace)
        return plan

    def _timeline(self, plan: OrderPlan, status: str, marketplace: bool) -> None:
        """Payment, ERP steps, shipments and completion, all between created_at and now."""
        rng, order = self.rng, plan.order
        hours = lambda lo, hi: timedelta(hours=rng.uniform(lo, hi))  # noqa: E731
        paid = status != S.PENDING_PAYMENT and not (status == S.CANCELLED and rng.random() < 0.5)
        # Some orders are shipped by hand (logistics entered by the operator) before the ERP ever takes them.
        manual = status == S.SHIPPED and rng.random() < 0.08
        taken = paid and not manual and (
            status in (S.PARTIALLY_SHIPPED, S.SHIPPED, S.COMPLETED)
            or (status == S.AWAITING_SHIPMENT and rng.random() < 0.55)
            or (status == S.CANCELLED and rng.random() < 0.4)
        )
        ev = {}  # event -> offset from created_at
        if paid:
            ev["paid"] = timedelta(minutes=rng.uniform(1, 90))
        if taken:
            ev["taken"] = ev["paid"] + timedelta(minutes=rng.uniform(3, 40))
        target = {
            S.AWAITING_SHIPMENT: rng.choice([ErpStatus.SUBMITTED, ErpStatus.PICKING]),
            S.PARTIALLY_SHIPPED: rng.choice([ErpStatus.PICKING, ErpStatus.OUT_OF_WAREHOUSE]),
            S.SHIPPED: rng.choices([ErpStatus.OUT_OF_WAREHOUSE, ErpStatus.DELIVERING], [30, 70])[0],
            S.COMPLETED: ErpStatus.SIGNED,
            S.CANCELLED: ErpStatus.SUBMITTED,
        }.get(status) if taken else None
        steps = []
        if target:
            offset = ev["taken"]
            for erp_status in ERP_FLOW[: ERP_FLOW.index(target) + 1]:
                if erp_status != ErpStatus.SUBMITTED:
                    offset += hours(*ERP_STEP_GAPS[erp_status])
                steps.append([erp_status, offset])
        step_at = dict(steps)

        # Shipments: lists of (item index, quantity)
        ship_groups = []
        indexes = list(range(len(plan.items)))
        if status == S.PARTIALLY_SHIPPED:
            at = step_at.get(ErpStatus.OUT_OF_WAREHOUSE) or step_at[ErpStatus.PICKING] + hours(1, 5)
            if len(indexes) > 1:
                lines = [(i, plan.items[i][1].quantity) for i in indexes[: len(indexes) // 2]]
            else:
                lines = [(0, plan.items[0][1].quantity // 2)]
            ship_groups.append((at, lines))
        elif status in (S.SHIPPED, S.COMPLETED):
            at = step_at.get(ErpStatus.OUT_OF_WAREHOUSE) or ev["paid"] + hours(2, 20)
            single = plan.items[0][1].quantity if len(indexes) == 1 else 0
            if rng.random() < 0.15 and (len(indexes) > 1 or single > 1):
                if len(indexes) > 1:
                    half = len(indexes) // 2
                    first = [(i, plan.items[i][1].quantity) for i in indexes[:half]]
                    second = [(i, plan.items[i][1].quantity) for i in indexes[half:]]
                else:
                    first, second = [(0, single // 2)], [(0, single - single // 2)]
                later = at + hours(4, 30)
                ship_groups += [(at, first), (later, second)]
                # The parcel is on its way only after the second shipment left.
                previous = later
                for step in steps:
                    if step[0] in (ErpStatus.DELIVERING, ErpStatus.SIGNED):
                        if step[1] <= previous:
                            step[1] = previous + hours(*ERP_STEP_GAPS[step[0]])
                        previous = step[1]
            else:
                ship_groups.append((at, [(i, plan.items[i][1].quantity) for i in indexes]))
        if status == S.CANCELLED:
            ev["cancelled"] = ev.get("taken", ev.get("paid", timedelta())) + hours(0.2, 10)

        # Squeeze everything into [created_at, now) for young orders.
        offsets = [*ev.values(), *(s[1] for s in steps), *(g[0] for g in ship_groups)]
        room = self.now - order.created_at - timedelta(minutes=1)
        factor = min(1.0, room / max(offsets)) if offsets else 1.0
        at = lambda offset: order.created_at + offset * factor  # noqa: E731

        order.paid_at = at(ev["paid"]) if paid else None
        order.paid_amount = order.total_amount if paid else Decimal("0.00")
        if paid:
            order.payment = "支付宝" if marketplace else rng.choice(["在线支付", "对公转账", "账期支付"])
        order.taken_by_erp, order.taken_at = taken, at(ev["taken"]) if taken else None
        order.erp_status = target or ""
        if marketplace:
            order.platform_status = PLATFORM_STATUS[status]
            if status == S.CANCELLED and not paid:
                order.platform_status = "TRADE_CLOSED_BY_TAOBAO"
            if status in (S.PENDING_PAYMENT, S.AWAITING_SHIPMENT) and rng.random() < 0.3:
                order.is_presale = True  # type=step: deposit paid, balance due later
                if status == S.PENDING_PAYMENT:
                    order.platform_status = "FRONT_PAID_FINAL_NOPAID"

        carrier_code = rng.choices(self.carrier_codes, [CARRIER_WEIGHTS[c] for c in self.carrier_codes])[0]
        for shipped_offset, lines in ship_groups:
            shipped = at(shipped_offset)
            carrier = self.ref["carriers"][carrier_code]
            shipment = Shipment(order=order, carrier=carrier, tracking_no=self._tracking_no(carrier_code),
                                shipped_at=shipped, created_by=self.operator if manual else None)
            plan.shipments.append((shipment, [(i, qty, self._batch_for(plan.items[i][0], shipped))
                                              for i, qty in lines if qty > 0]))
            order.carrier, order.tracking_no, order.shipped_at = carrier, shipment.tracking_no, shipped
        for _shipment, lines in plan.shipments:
            for i, _qty, batch in lines:
                item = plan.items[i][1]
                if batch and batch[0] not in item.batch_no.split(","):
                    item.batch_no = ",".join(filter(None, [item.batch_no, batch[0]]))[:200]

        for erp_status, offset in steps:
            message = ERP_MESSAGES[erp_status].format(
                carrier=order.carrier.name if order.carrier else "", tracking_no=order.tracking_no,
                receiver=order.receiver_name,
            )
            plan.tracking.append(TrackingEntry(order=order, at=at(offset), erp_status=erp_status, message=message))
        if status == S.COMPLETED:
            order.completed_at = plan.tracking[-1].at  # "signed" completes the order

        if status == S.CANCELLED and paid:
            for _pp, item in plan.items:
                item.refund_status = RefundStatus.REFUNDED
        elif status in (S.COMPLETED, S.SHIPPED) and rng.random() < 0.04:
            plan.items[0][1].refund_status = rng.choice(
                [RefundStatus.REQUESTED, RefundStatus.REFUNDED, RefundStatus.REJECTED]
            )

        times = [order.created_at, order.paid_at, order.taken_at, order.shipped_at, order.completed_at,
                 *(t.at for t in plan.tracking)]
        if "cancelled" in ev:
            times.append(at(ev["cancelled"]))
        order.modified_at = max(t for t in times if t is not None)


def save_orders(plans: list[OrderPlan]) -> None:
    Order.objects.bulk_create([p.order for p in plans], batch_size=500)
    items, shipments, tracking = [], [], []
    for p in plans:
        for _pp, item in p.items:
            item.order = p.order
            items.append(item)
        for shipment, _lines in p.shipments:
            shipment.order = p.order
            shipments.append(shipment)
        for entry in p.tracking:
            entry.order = p.order
            tracking.append(entry)
    OrderItem.objects.bulk_create(items, batch_size=1000)
    Shipment.objects.bulk_create(shipments, batch_size=1000)
    TrackingEntry.objects.bulk_create(tracking, batch_size=1000)
    shipment_items = []
    for p in plans:
        for shipment, lines in p.shipments:
            for i, qty, batch in lines:
                batch_no, production, expiry = batch or ("", None, None)
                shipment_items.append(ShipmentItem(shipment=shipment, order_item=p.items[i][1], quantity=qty,
                                                   batch_no=batch_no, production_date=production, expiry_date=expiry))
    ShipmentItem.objects.bulk_create(shipment_items, batch_size=1000)


# ---------------------------------------------------------------- the command

class Command(BaseCommand):
    help = "Load the demo data (merchants demo and other, users, catalog, customers, orders). Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true",
            help="Run even with DEBUG off (creates users with the public password demo12345).",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo data with DEBUG off: it creates users with the public password "
                f"{PASSWORD}. Use --force if this really is a demo installation."
            )
        started = clock.monotonic()
        now = timezone.now()
        today = timezone.localdate(now)
        report = []
        with transaction.atomic():
            ref = ensure_reference_data()
            users = ensure_users()
            for index, plan in enumerate(MERCHANTS):
                merchant = Merchant.objects.get(code=plan.code)
                has_products = merchant.products.exists()
                has_orders = merchant.orders.exists()
                if has_products or has_orders:
                    report.append(f"{plan.code}: already has data, left as is")
                    continue
                rng = random.Random(SEED + 100 * (index + 1))
                catalog = build_catalog(rng, merchant, plan, ref, today)
                save_catalog(catalog)
                if plan.extras:
                    build_switches(rng, merchant, catalog, users, now)
                save_erp_codes(rng, merchant, plan, ref)
                builder = OrderBuilder(
                    f"{SEED}:{plan.code}:orders", merchant=merchant, plan=plan, catalog=catalog, ref=ref,
                    users=users, now=now,
                )
                save_orders(builder.build(plan.orders))
                report.append(f"{plan.code}: generated")

        for plan in MERCHANTS:
            merchant = Merchant.objects.get(code=plan.code)
            states = dict(merchant.products.values_list("listing_state").annotate(n=Count("pk")))
            statuses = dict(merchant.orders.values_list("status").annotate(n=Count("pk")))
            self.stdout.write(
                f"  {merchant.code}: {sum(states.values())} products ("
                + ", ".join(f"{s} {states.get(s, 0)}" for s in ListingState.values)
                + f"), {sum(statuses.values())} orders ("
                + ", ".join(f"{s} {statuses.get(s, 0)}" for s in OrderStatus.values) + ")"
            )
        self.stdout.write(
            f"  platform: {BaseProduct.objects.count()} base products, {RegionGroup.objects.count()} region groups, "
            f"{CustomerGroup.objects.count()} customer groups, {Carrier.objects.count()} carriers, "
            f"{Customer.objects.count()} customers"
        )
        for line in report:
            self.stdout.write(f"  {line}")
        logins = ", ".join(["admin"] + [u for plan in MERCHANTS for u, _role in plan.users])
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready in {clock.monotonic() - started:.1f} s. Logins (password {PASSWORD}): {logins}"
        ))
