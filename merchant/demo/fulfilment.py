"""What happens to a demo order after it is placed: payment, the ERP's steps, shipments, tracking and refunds."""
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from merchant.models import ErpStatus, OrderStatus, PresaleStage, RefundStatus, Shipment, TrackingEntry

S = OrderStatus
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
    S.PENDING_PAYMENT: "WAIT_BUYER_PAY",
    S.AWAITING_SHIPMENT: "WAIT_SELLER_SEND_GOODS",
    S.PARTIALLY_SHIPPED: "SELLER_CONSIGNED_PART",
    S.SHIPPED: "WAIT_BUYER_CONFIRM_GOODS",
    S.COMPLETED: "TRADE_FINISHED",
    S.CANCELLED: "TRADE_CLOSED",
}
CARRIER_WEIGHTS = {"SF": 25, "ZTO": 18, "YTO": 15, "STO": 8, "YUNDA": 10, "JD": 10, "EMS": 5, "DBL": 6, "KYE": 3}
TRACKING_PREFIX = {"SF": "SF", "YTO": "YT", "JD": "JDVA", "DBL": "DPK", "EMS": "11", "STO": "77", "YUNDA": "43",
                   "ZTO": "7", "KYE": "KY"}


def _split_in_two(items: list) -> tuple[list, list]:
    """Two parcels' lines [(item index, quantity)]: the first half of the lines and the rest, or, for a single
    line, half of its quantity and the rest."""
    if len(items) > 1:
        half = len(items) // 2
        return ([(i, items[i][1].quantity) for i in range(half)],
                [(i, items[i][1].quantity) for i in range(half, len(items))])
    quantity = items[0][1].quantity
    return [(0, quantity // 2)], [(0, quantity - quantity // 2)]


class FulfilmentMixin:
    """The order builder's fulfilment steps. Uses its rng, now, tz, ref, operator, carrier_codes and
    used_numbers; draws from rng in a fixed order, so a seed always gives the same timeline."""

    def _tracking_no(self, carrier_code: str) -> str:
        prefix = TRACKING_PREFIX.get(carrier_code, "")
        while True:
            number = prefix + "".join(self.rng.choice("0123456789") for _ in range(14 - len(prefix) + 1))
            if number not in self.used_numbers:
                self.used_numbers.add(number)
                return number

    def _batch_for(self, pp, shipped: datetime):
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

    def _presale(self, order, status: str) -> None:
        """A presale (type=step): awaiting shipment, its balance is paid; pending payment, its deposit is paid
        and the balance falls due in a day or three, so its quantity is frozen (merchant.services.presale)."""
        order.is_presale = True
        if status == S.AWAITING_SHIPMENT:
            order.presale_status = PresaleStage.BALANCE_PAID
            return
        order.presale_status = PresaleStage.DEPOSIT_PAID
        order.paid_amount = (order.total_amount * Decimal("0.2")).quantize(Decimal("0.01"))
        order.presale_balance_due_at = (self.now + timedelta(days=self.rng.randint(1, 3))).replace(
            minute=0, second=0, microsecond=0)
        order.presale_frozen = True

    def _timeline(self, plan, status: str, marketplace: bool) -> None:
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
        if status == S.PARTIALLY_SHIPPED:
            at = step_at.get(ErpStatus.OUT_OF_WAREHOUSE) or step_at[ErpStatus.PICKING] + hours(1, 5)
            ship_groups.append((at, _split_in_two(plan.items)[0]))
        elif status in (S.SHIPPED, S.COMPLETED):
            at = step_at.get(ErpStatus.OUT_OF_WAREHOUSE) or ev["paid"] + hours(2, 20)
            if rng.random() < 0.15 and sum(item.quantity for _pp, item in plan.items) > 1:  # something to split
                first, second = _split_in_two(plan.items)
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
                ship_groups.append((at, [(i, item.quantity) for i, (_pp, item) in enumerate(plan.items)]))
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
                self._presale(order, status)

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
