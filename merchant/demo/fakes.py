"""Seeded stand-ins for real-world values: money, barcodes, people, phones, addresses and places.

Every function draws from the random generator it is given, so the same seed gives the same values.
"""
import random
from decimal import ROUND_HALF_UP, Decimal

SEED = 20240611
Q2 = Decimal("0.01")

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
SURNAMES = "张王李赵陈刘杨黄周吴徐孙马朱胡郭何林罗高梁宋郑谢"
GIVEN_NAMES = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
               "秀英", "建国", "志强", "晓燕", "海燕", "丹", "俊杰", "婷婷", "文博", "子涵"]
BRANDS = ["康源", "仁济", "百姓", "益丰", "安康", "同济", "惠民", "健生", "德仁", "和平", "万家", "福寿", "济世",
          "恒春", "佳和", "普康", "瑞祥", "永信", "众生", "大参"]
STREETS = ["中山路", "人民路", "解放路", "建设路", "和平路", "新华路", "文化路", "东风路", "长江路", "黄河路",
           "青年路", "滨江大道", "科技园路", "体育西路"]


def money(value) -> Decimal:
    """value rounded half up to 2 places."""
    return Decimal(value).quantize(Q2, rounding=ROUND_HALF_UP)


def cents(value: int) -> Decimal:
    """An amount in cents as a Decimal with 2 places."""
    return (Decimal(value) / 100).quantize(Q2)


def ean13(rng: random.Random, used: set) -> str:
    """A Chinese (69x prefix) EAN-13 barcode with a correct check digit, not in used (it is added to used)."""
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
    """A mainland mobile number (11 digits)."""
    return "1" + rng.choice("35789") + "".join(rng.choice("0123456789") for _ in range(9))


def street_address(rng: random.Random) -> str:
    building = rng.choice(["", f"{rng.randint(1, 30)}栋{rng.randint(101, 2808)}室"])
    return f"{rng.choice(STREETS)}{rng.randint(1, 999)}号{building}"


def random_place(rng: random.Random) -> tuple[str, str, str, str]:
    """(province, city, district, administrative division code) of one of PROVINCES' districts."""
    province = rng.choice(list(PROVINCES))
    city, district, division = rng.choice(PROVINCES[province])
    return province, city, district, division
