"""The shop's items as TOP lists them: the item headers of `taobao.items.onsale.get` (on sale) and
`taobao.items.inventory.get` (in the warehouse), paged; one item with its SKUs from `taobao.item.seller.get`.
Every answer is checked here and refused whole (MalformedAnswer) before anything is written."""
from sync.errors import MalformedAnswer
from sync.marketplaces.records import Item, ItemHeader, Sku

from .mapping import _money, _require, _text, _time, total_results, unwrap_list

ONSALE = "taobao.items.onsale.get"
INVENTORY = "taobao.items.inventory.get"
SELLER_GET = "taobao.item.seller.get"
LIST_FIELDS = "num_iid,title,outer_id,modified,approve_status"
ITEM_FIELDS = "num_iid,title,outer_id,modified,approve_status,sku"
# items.onsale.get: "每页条数 ... 最大值：200"; and page_no * page_size must stay under 100,000.
PAGE_SIZE = 200
MAX_PAGES = 100_000 // PAGE_SIZE


def _int(record: dict, name: str, where: str) -> int:
    try:
        return int(_require(record, name, where))
    except (TypeError, ValueError):
        raise MalformedAnswer(f"{where}.{name} is not a number", code="bad-field") from None


def _header(record: dict, onsale: bool, where: str) -> ItemHeader:
    if not isinstance(record, dict):
        raise MalformedAnswer(f"{where} is not an object", code="bad-list")
    status = record.get("approve_status")
    return ItemHeader(
        num_iid=_int(record, "num_iid", where), title=_text(record, "title", 200),
        outer_id=_text(record, "outer_id", 64), modified=_time(record, "modified", where),
        onsale=onsale if status in (None, "") else status == "onsale",
    )


def _page_reader(onsale: bool):
    def read(body: dict) -> tuple[list[ItemHeader], int]:
        items = unwrap_list(body.get("items"), "item")
        return [_header(record, onsale, "item") for record in items], total_results(body)
    return read


def items_page(client, *, onsale: bool, page_no: int) -> tuple[list[ItemHeader], int]:
    """One page of the shop's items on sale (or in the warehouse) and the total count; raises SyncError."""
    method = ONSALE if onsale else INVENTORY
    return client.call_with_retry(method, {
        "fields": LIST_FIELDS, "page_no": page_no, "page_size": PAGE_SIZE, "order_by": "modified:desc",
    }, read=_page_reader(onsale))


def items_all(client, *, onsale: bool, on_page=None) -> list[ItemHeader]:
    """Every item header on sale (or in the warehouse), page after page; `on_page()` runs after each page."""
    headers, page_no = [], 1
    while page_no <= MAX_PAGES:
        page, total = items_page(client, onsale=onsale, page_no=page_no)
        headers += page
        if on_page:
            on_page()
        if not page or len(headers) >= total:
            break
        page_no += 1
    return headers


def _sku(record: dict, where: str) -> Sku:
    if not isinstance(record, dict):
        raise MalformedAnswer(f"{where} is not an object", code="bad-list")
    quantity = record.get("quantity")
    try:
        quantity = None if quantity in (None, "") else int(quantity)
    except (TypeError, ValueError):
        raise MalformedAnswer(f"{where}.quantity is not a number", code="bad-field") from None
    return Sku(
        sku_id=_int(record, "sku_id", where), outer_id=_text(record, "outer_id", 64),
        properties=_text(record, "properties", 200), name=_text(record, "properties_name", 200),
        quantity=quantity, price=_money(record, "price", where) if record.get("price") not in (None, "") else None,
    )


def _item_reader(onsale: bool):
    def read(body: dict) -> Item:
        record = body.get("item")
        if not isinstance(record, dict):
            raise MalformedAnswer(f"answer to {SELLER_GET} lacks item", code="missing-field")
        skus = [_sku(sku, "item.sku") for sku in unwrap_list(record.get("skus"), "sku")]
        return Item(header=_header(record, onsale, "item"), skus=skus)
    return read


def item_get(client, num_iid: int, *, onsale: bool = True) -> Item:
    """One of the shop's items with its SKUs; raises BusinessError when the shop no longer has it."""
    return client.call_with_retry(SELLER_GET, {"num_iid": num_iid, "fields": ITEM_FIELDS}, read=_item_reader(onsale))
