"""factory_boy factories for the domain models; tests build their data from these or from the services."""
from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from merchant.models import (
    Batch, BaseProduct, Carrier, Customer, CustomerGroup, ErpCustomerCode, GroupPrice, HeldValue, ListingState,
    Membership, Merchant, ModuleSwitch, Order, OrderItem, OrderSource, OrderStatus, Product, RegionGroup,
    RegionGroupProvince, Role, SkuSwitch,
)
from merchant.validators import uscc_check_char

# Every factory-made user has this password, so tests can log in through the real login form.
PASSWORD = "correct-horse-battery-staple"


def valid_uscc(n: int) -> str:
    """A well-formed unified social credit code, different for each n, with the right check character."""
    first17 = f"91350100{n % 10**9:09d}"
    return first17 + uscc_check_char(first17)


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"merchant-{n}")
    name = factory.Sequence(lambda n: f"Merchant {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = Role.VIEWER


def member(merchant: Merchant, role: str, **user_fields):
    """A user belonging to merchant with role (the Membership is created too); returns the user."""
    user = UserFactory(**user_fields)
    MembershipFactory(user=user, merchant=merchant, role=role)
    return user


class BaseProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BaseProduct

    name = factory.Sequence(lambda n: f"Base product {n}")
    barcode = factory.Sequence(lambda n: f"690{n:010d}")
    approval_number = factory.Sequence(lambda n: f"国药准字H{n:08d}")
    spec = "10mg*24"
    manufacturer = "Example Pharma"


class RegionGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegionGroup
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"region-{n}")
    name = factory.Sequence(lambda n: f"Region {n}")

    @factory.post_generation
    def provinces(self, create, extracted, **kwargs):
        """RegionGroupFactory(provinces=["广东", "广西"]) adds those provinces."""
        if create and extracted:
            for province in extracted:
                RegionGroupProvince.objects.get_or_create(region_group=self, province=province)


class CustomerGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerGroup
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"cgroup-{n}")
    name = factory.Sequence(lambda n: f"Customer group {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    """A listed product with a base product and stock; trait pending=True makes an unmatched one."""

    class Meta:
        model = Product

    merchant = factory.SubFactory(MerchantFactory)
    erp_product_id = factory.Sequence(lambda n: f"SKU{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    barcode = factory.Sequence(lambda n: f"691{n:010d}")
    approval_number = factory.Sequence(lambda n: f"国药准字Z{n:08d}")
    spec = "0.25g*36"
    manufacturer = "Example Pharma"
    unit = "box"
    base_product = factory.SubFactory(BaseProductFactory)
    default_price = Decimal("12.50")
    stock = 10
    listing_state = ListingState.LISTED

    class Params:
        pending = factory.Trait(base_product=None, listing_state=ListingState.PENDING_REVIEW)
        ready = factory.Trait(listing_state=ListingState.READY, stock=0)


class GroupPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupPrice

    product = factory.SubFactory(ProductFactory)
    region_group = factory.SubFactory(RegionGroupFactory)
    customer_group = None
    price = Decimal("11.00")


class BatchFactory(factory.django.DjangoModelFactory):
    """An on-sale batch: produced 100 days ago, expiring in a year."""

    class Meta:
        model = Batch

    product = factory.SubFactory(ProductFactory, batch_managed=True)
    batch_no = factory.Sequence(lambda n: f"B{n:06d}")
    production_date = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=100))
    expiry_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=365))
    quantity = 10


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n:04d} Pharmacy")
    uscc = factory.Sequence(valid_uscc)
    contact = "Zhang San"
    phone = "13800000000"
    province = "广东"


class ErpCustomerCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ErpCustomerCode

    merchant = factory.SubFactory(MerchantFactory)
    customer = factory.SubFactory(CustomerFactory)
    code = factory.Sequence(lambda n: f"C{n:05d}")


class CarrierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Carrier
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"CARRIER{n}")
    name = factory.Sequence(lambda n: f"Carrier {n}")
    is_active = True


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory("tests.factories.OrderFactory", items=0)
    line_no = factory.LazyAttribute(lambda item: item.order.items.count() + 1)
    product = None
    erp_product_id = factory.LazyAttribute(lambda item: item.product.erp_product_id if item.product else "SKU-X")
    item_name = factory.LazyAttribute(lambda item: item.product.name if item.product else "Item")
    quantity = 2
    unit_price = Decimal("12.50")
    amount = factory.LazyAttribute(lambda item: item.unit_price * item.quantity)


class OrderFactory(factory.django.DjangoModelFactory):
    """An order awaiting shipment with 2 items (OrderFactory(items=0) for none, items=[{...}, ...] to choose).

    Each item dict takes OrderItem fields, e.g. {"product": p, "quantity": 3}.
    """

    class Meta:
        model = Order
        skip_postgeneration_save = True

    merchant = factory.SubFactory(MerchantFactory)
    source = OrderSource.STOREFRONT
    order_no = factory.Sequence(lambda n: f"SO{n:08d}")
    status = OrderStatus.AWAITING_SHIPMENT
    platform_status = "WAIT_SELLER_SEND_GOODS"
    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=2))
    modified_at = factory.LazyAttribute(lambda o: o.created_at)
    paid_at = factory.LazyAttribute(lambda o: o.created_at + timedelta(minutes=5))
    payment = "alipay"
    receiver_name = "Li Si"
    receiver_province = "广东"
    receiver_city = "广州"
    receiver_address = "1 Example Road"

    @factory.post_generation
    def items(self, create, extracted, **kwargs):
        if not create:
            return
        specs = [{} for _ in range(2)] if extracted is None else (
            [{} for _ in range(extracted)] if isinstance(extracted, int) else list(extracted)
        )
        for line_no, spec in enumerate(specs, start=1):
            spec = dict(spec)
            OrderItemFactory(order=self, line_no=spec.pop("line_no", line_no), **spec)
        if specs:
            total = sum(i.amount for i in self.items.all())
            Order.objects.filter(pk=self.pk).update(goods_amount=total, total_amount=total, paid_amount=total)
            self.goods_amount = self.total_amount = self.paid_amount = total


class ModuleSwitchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModuleSwitch

    merchant = factory.SubFactory(MerchantFactory)
    module = "stock"
    enabled = True


class SkuSwitchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SkuSwitch

    product = factory.SubFactory(ProductFactory)
    kind = "stock"
    enabled = True


class HeldValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HeldValue

    product = factory.SubFactory(ProductFactory)
    merchant = factory.LazyAttribute(lambda h: h.product.merchant)
    field = "stock"
    source = "erp"
    value = 99
    received_at = factory.LazyFunction(timezone.now)


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A TOP marketplace connection; its gateway refuses connections unless gateway_url is given."""

    class Meta:
        model = "sync.Connection"

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Shop {n}")
    gateway_url = "http://127.0.0.1:9/router/rest"
    app_key = factory.Sequence(lambda n: f"app-key-{n}")
    # Model(**kwargs) sets properties too, so these are stored encrypted like the services store them.
    app_secret = "factory-app-secret"
    session = "factory-session-token"


class RobotChannelFactory(factory.django.DjangoModelFactory):
    """A DingTalk robot switched on for every event; its webhook refuses connections unless webhook_url is given."""

    class Meta:
        model = "merchant.RobotChannel"

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Robot {n}")
    kind = "dingtalk"
    # Set after kind (Model(**kwargs) sets fields, then properties), so the host and token hint are derived.
    webhook_url = "http://127.0.0.1:9/robot/send?access_token=factory-robot-token-0001"
    events = factory.LazyFunction(lambda: ["connection_stopped", "breaker_opened", "push_failed", "low_stock",
                                           "batch_expiring", "logistics_stalled", "erp_rejected", "import_finished",
                                           "import_failed", "order_exceptions"])
