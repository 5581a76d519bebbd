"""The shop's products as the item mapping and the stock check read them (records.ItemHeader / Item / Sku):
product headers from /product/listV2 (status 0 online, 1 offline; pages from 1, at most 100 a page and 10,000 in
all: zsmhub/doudian-sdk api/product_listV2/request/product_listV2_request.go), a product's SKUs with their code
and stock from /sku/list {product_id} (api/sku_list/response/sku_list_response.go: id, product_id, code,
spec_detail_name1..3, price in fen, stock_num). A Douyin product is TOP's item: num_iid carries its product id."""
from datetime import UTC, datetime
from decimal import Decimal

from sync.errors import MalformedAnswer
from sync.marketplaces.records import Item, ItemHeader, Sku

PRODUCTS = "/product/listV2"
SKUS = "/sku/list"
PAGE = 100
MAX_PAGES = 100


def _digits(value, where: str) -> int:
    if isinstance(value, (bool, float)) or not str(value if value is not None else "").isdigit():
        raise MalformedAnswer(f"{where} is not an id: {value!r}", code="bad-field")
    return int(str(value))


def _header(record, onsale: bool, where: str) -> ItemHeader:
    if not isinstance(record, dict):
        raise MalformedAnswer(f"{where} is not an object", code="bad-list")
    seconds = record.get("update_time")
    modified = datetime.fromtimestamp(int(seconds), tz=UTC) if isinstance(seconds, int) and seconds > 0 else None
    status = record.get("status")
    return ItemHeader(num_iid=_digits(record.get("product_id"), f"{where}.product_id"),
                      title=str(record.get("name") or "")[:200], outer_id=str(record.get("out_product_id") or "")[:64],
                      modified=modified, onsale=onsale if status in (None, "") else str(status) == "0")


def _page_reader(onsale: bool):
    def read(data) -> tuple[list[ItemHeader], int]:
        if not isinstance(data, dict) or not isinstance(data.get("data") or [], list):
            raise MalformedAnswer(f"answer to {PRODUCTS} lacks data.data", code="bad-list")
        headers = [_header(r, onsale, f"data.data[{i}]") for i, r in enumerate(data.get("data") or [])]
        try:
            return headers, int(data.get("total") or 0)
        except (TypeError, ValueError):
            raise MalformedAnswer("data.total is not a number", code="bad-field") from None
    return read


def items_all(client, *, onsale: bool, on_page=None) -> list[ItemHeader]:
    headers, page = [], 1
    while page <= MAX_PAGES:
        found, total = client.call_with_retry(PRODUCTS, {"page": page, "size": PAGE, "status": 0 if onsale else 1},
                                              read=_page_reader(onsale))
        headers += found
        if on_page:
            on_page()
        if not found or page * PAGE >= total:
            break
        page += 1
    return headers


def _skus(data) -> list[Sku]:
    if not isinstance(data, list):
        raise MalformedAnswer(f"answer to {SKUS} is not a list", code="bad-list")
    skus = []
    for i, record in enumerate(data):
        where = f"data[{i}]"
        if not isinstance(record, dict):
            raise MalformedAnswer(f"{where} is not an object", code="bad-list")
        names = [str(record.get(f"spec_detail_name{n}") or "") for n in (1, 2, 3)]
        try:
            quantity = int(record["stock_num"]) if record.get("stock_num") not in (None, "") else None
            price = (Decimal(int(record["price"])) / 100).quantize(Decimal("0.01")) \
                if record.get("price") not in (None, "") else None
        except (TypeError, ValueError):
            raise MalformedAnswer(f"{where}.stock_num or price is not a number", code="bad-field") from None
        skus.append(Sku(sku_id=_digits(record.get("id"), f"{where}.id"), outer_id=str(record.get("code") or "")[:64],
                        properties=";".join(n for n in names if n)[:200], name=" ".join(n for n in names if n)[:200],
                        quantity=quantity, price=price))
    return skus


def item_get(client, product_id: int, *, header: ItemHeader | None = None, onsale: bool = True) -> Item:
    skus = client.call_with_retry(SKUS, {"product_id": str(product_id)}, read=_skus)
    return Item(header=header or ItemHeader(num_iid=int(product_id), title="", outer_id="", modified=None,
                                            onsale=onsale), skus=skus)
