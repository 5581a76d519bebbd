from .accounts import Membership, Merchant, PresaleHandoff, Role
from .api import ApiCredential, ApiNonce, IdempotencyRecord, OrderTake
from .audit import AuditEntry, AuditSource
from .catalog import (
    Batch,
    BaseProduct,
    CustomerGroup,
    GroupPrice,
    ListingState,
    PendingReviewProduct,
    Product,
    RegionGroup,
    RegionGroupProvince,
)
from .customers import Customer, ErpCustomerCode, UnmatchedErpCustomer
from .imports import ImportInterruption, ImportJob, ImportKind, ImportRow, ImportStatus, RowAction
from .orders import (
    Carrier,
    ErpStatus,
    Order,
    OrderFlag,
    OrderItem,
    OrderSource,
    OrderStatus,
    PLATFORM_STATUS_LABELS,
    PresaleStage,
    RefundStatus,
    Shipment,
    ShipmentItem,
    TrackingEntry,
    platform_status_label,
)
from .followups import FollowUp, FollowUpKind, FollowUpStatus
from .order_views import OrderListPreference, SavedOrderView
from .notifications import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationCondition,
    NotificationCooldown,
    NotificationCursor,
    NotificationEvent,
    NotificationRead,
    RobotChannel,
    RobotKind,
)
from .replenishment import ProductReplenishment
from .switches import HeldItem, HeldValue, Module, ModuleSwitch, SkuSwitch, SwitchKind

__all__ = [
    "ApiCredential", "ApiNonce", "AuditEntry", "IdempotencyRecord", "OrderTake", "AuditSource", "BaseProduct", "Batch", "Carrier", "Customer", "CustomerGroup",
    "ErpCustomerCode", "ErpStatus", "ImportInterruption", "ImportJob", "ImportKind", "ImportRow", "ImportStatus", "RowAction", "GroupPrice", "HeldItem", "HeldValue", "ListingState", "Membership", "Merchant",
    "Module", "ModuleSwitch", "Order", "OrderFlag", "OrderItem", "OrderListPreference", "OrderSource", "OrderStatus", "PendingReviewProduct", "Product", "RefundStatus",
    "RegionGroup", "RegionGroupProvince", "Role", "SavedOrderView", "Shipment", "ShipmentItem", "SkuSwitch", "SwitchKind",
    "TrackingEntry", "UnmatchedErpCustomer",
    "Delivery", "DeliveryStatus", "Notification", "NotificationCondition", "NotificationCooldown", "NotificationCursor",
    "NotificationEvent", "NotificationRead", "RobotChannel", "RobotKind", "ProductReplenishment",
    "FollowUp", "FollowUpKind", "FollowUpStatus",
]
