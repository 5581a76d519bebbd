"""Batched catalog writes (SPEC A2): products, prices, batches, listing, stock and ERP customer codes.

Each request carries up to API_MAX_ITEMS items; each item is answered on its own (ok, held with the
reason, invalid with the field path). A request refused as a whole (bad JSON, too many items, too large)
writes nothing.
"""
from django.db import transaction
from django.http import JsonResponse
from django.utils.translation import gettext_noop

from merchant.models import AuditSource
from merchant.permissions import Actor
from merchant.services.customers import unmatched_erp_customers_record
from merchant.services.inbound import HELD, INVALID, OK, ItemResult, inbound_apply
from merchant.services.inbound_fields import item_from_json

from .requests import batch_items, json_body
from .views import api_view

# URL name -> bulk kind
ENDPOINT_KINDS = {
    "products": "products", "prices": "prices", "batches": "batches", "listing": "listing", "stock": "stock",
    "customers": "customer_codes",
}
UNMATCHED_USCC = "no platform customer with this USCC"
# merchant/services/bulk/stock.py translates its UNKNOWN_PRODUCT constant when it answers; makemessages cannot
# see a constant, so the words are marked here, where the API answers them to ERPs asking in Chinese.
gettext_noop("no product with this ERP product id")


def result_json(result: ItemResult) -> dict:
    answer = {"index": result.ref, "key": result.key, "status": result.status}
    if result.status == OK:
        answer["changed"] = result.changed
        if result.note:
            answer["note"] = result.note
    elif result.status == HELD:
        answer.update(reason=result.reason, held=result.held)
    else:
        answer["errors"] = [
            {"field": f"items[{result.ref}].{name}" if name else f"items[{result.ref}]", "message": str(message)}
            for name, message in result.errors.items()
        ]
    return answer


def results_json(results: list[ItemResult]) -> dict:
    counts = {OK: 0, HELD: 0, INVALID: 0}
    for result in results:
        counts[result.status] += 1
    return {"results": [result_json(result) for result in results], "counts": counts}


def _endpoint(kind: str):
    @api_view(("POST",), write=True)
    def view(request):
        raw = batch_items(json_body(request))
        items = [item_from_json(kind, index, value) for index, value in enumerate(raw)]
        credential = request.api_credential
        with transaction.atomic():
            results = inbound_apply(merchant=credential.merchant, kind=kind, items=items,
                                    actor=Actor.system(source=AuditSource.API), reason=f"Open API {credential.key}")
            answer = results_json(results)
            if kind == "customer_codes":
                unmatched = [raw[r.ref] for r in results if r.status == INVALID and _unmatched(r)]
                # A held item (customers module off) matched too: its code applies when the module is back on. Only
                # USCCs the ERP sent count; an item by platform customer id names none.
                matched = [raw[r.ref].get("uscc") for r in results if r.status != INVALID]
                unmatched_erp_customers_record(merchant=credential.merchant, unmatched=unmatched,
                                               matched_usccs=matched, source=AuditSource.API)
                answer["unmatched"] = [item.get("uscc") for item in unmatched]
        return JsonResponse(answer)
    view.__name__ = f"{kind}_write"
    return view


def _unmatched(result: ItemResult) -> bool:
    from django.utils.translation import gettext as _

    return str(result.errors.get("uscc", "")) == _(UNMATCHED_USCC)


VIEWS = {name: _endpoint(kind) for name, kind in ENDPOINT_KINDS.items()}
