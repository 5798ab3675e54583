"""The customer's JSON representation (the contract's flat object), as plain functions.

Plain functions rather than DRF serializers: the read path and the bulk report are hot, and the
rules of the input side live in customers.validation. customers.schema documents both for OpenAPI.
"""

from decimal import Decimal

from customers.models import Address, Customer, Order, Wishlist

CENT = Decimal("0.01")


def money(value) -> Decimal:
    """Two decimals; rendered as a JSON number such as 12.50 by twc.api.renderers."""
    return Decimal(value).quantize(CENT)


def _iso(value):
    return value.isoformat() if value is not None else None


def address_to_dict(address: Address) -> dict:
    return {
        "id": address.id,
        "customer_id": None,  # filled by customer_to_dict, which knows the reference
        "first_name": address.first_name,
        "last_name": address.last_name,
        "company": address.company,
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "province": address.province,
        "province_code": address.province_code,
        "country": address.country,
        "country_code": address.country_code,
        "zip": address.zip,
        "phone": address.phone,
        "name": address.name,
        "default": address.is_default,
    }


def customer_to_dict(customer: Customer, addresses: list[Address] | None = None) -> dict:
    """The full representation. Without `addresses`, reads `customer.addresses` (prefetch it).

    Written out rather than built from customers.fields: a dict display is the fastest way to make
    the read path's dicts; tests/customers/test_fields.py checks its keys against the table.
    """
    items = []
    default_address = None
    for address in customer.addresses.all() if addresses is None else addresses:
        item = address_to_dict(address)
        item["customer_id"] = customer.ref
        items.append(item)
        if address.is_default:
            default_address = item
    return {
        "id": customer.ref,
        "twc_customer_id": str(customer.twc_customer_id),
        "admin_graphql_api_id": customer.admin_graphql_api_id,
        "email": customer.email,
        "phone": customer.phone,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "note": customer.note,
        "state": customer.state,
        "verified_email": customer.verified_email,
        "accepts_marketing": customer.accepts_marketing,
        "accepts_marketing_updated_at": _iso(customer.accepts_marketing_updated_at),
        "marketing_opt_in_level": customer.marketing_opt_in_level,
        "multipass_identifier": customer.multipass_identifier,
        "currency": customer.currency,
        "tax_exempt": customer.tax_exempt,
        "tax_exemptions": list(customer.tax_exemptions or []),
        "tags": customer.tags,
        "metadata": customer.metadata,
        "private_metadata": customer.private_metadata,
        "addresses": items,
        "default_address": default_address,
        "orders_count": customer.orders_count,
        "total_spent": money(customer.total_spent),
        "last_order_id": str(customer.last_order_id) if customer.last_order_id is not None else None,
        "last_order_name": customer.last_order_name,
        "version": customer.version,
        "created_at": _iso(customer.created_at),
        "updated_at": _iso(customer.updated_at),
    }


def deleted_customer_to_dict(customer: Customer) -> dict:
    return {
        "id": customer.ref,
        "twc_customer_id": str(customer.twc_customer_id),
        "deleted": True,
        "deleted_at": _iso(customer.deleted_at),
    }


def order_to_dict(order: Order, customer_ref: str | None) -> dict:
    return {
        "id": str(order.id),
        "name": order.name,
        "email": order.email,
        "phone": order.phone,
        "total_price": money(order.total_price),
        "currency": order.currency,
        "test": order.test,
        "archived": order.archived,
        "created_at": _iso(order.created_at),
        "customer_id": customer_ref,
    }


def wishlist_to_dict(wishlist: Wishlist, customer_ref: str | None) -> dict:
    return {
        "id": str(wishlist.id),
        "name": wishlist.name,
        "email": wishlist.email,
        "phone": wishlist.phone,
        "items": wishlist.items,
        "created_at": _iso(wishlist.created_at),
        "customer_id": customer_ref,
    }


# The keys of customer_to_dict that read the customer's addresses.
ADDRESS_DEPENDENT_FIELDS = frozenset({"addresses", "default_address"})


def customer_to_partial_dict(customer: Customer, fields: list[str] | None) -> dict:
    """The representation restricted to `fields` (all when None); addresses read only when shown."""
    if fields is None:
        return customer_to_dict(customer)
    addresses = None if ADDRESS_DEPENDENT_FIELDS.intersection(fields) else []
    full = customer_to_dict(customer, addresses)
    return {field: full[field] for field in fields}
