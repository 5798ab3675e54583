"""The event types of the contract, and the topics a webhook subscription may name."""

CUSTOMER_CREATE = "customers/create"
CUSTOMER_UPDATE = "customers/update"
CUSTOMER_DELETE = "customers/delete"
CUSTOMER_RESTORE = "customers/restore"
CUSTOMER_ENABLE = "customers/enable"
CUSTOMER_DISABLE = "customers/disable"
CUSTOMER_INVITE = "customers/invite"
CUSTOMER_DECLINE = "customers/decline"
CUSTOMER_MERGE = "customers/merge"
CUSTOMER_REDACT = "customers/redact"
ORDER_CREATE = "orders/create"
WISHLIST_CREATE = "wishlists/create"

EVENT_TYPES: tuple[str, ...] = (
    CUSTOMER_CREATE,
    CUSTOMER_UPDATE,
    CUSTOMER_DELETE,
    CUSTOMER_RESTORE,
    CUSTOMER_ENABLE,
    CUSTOMER_DISABLE,
    CUSTOMER_INVITE,
    CUSTOMER_DECLINE,
    CUSTOMER_MERGE,
    CUSTOMER_REDACT,
    ORDER_CREATE,
    WISHLIST_CREATE,
)
ALL_TOPICS = "*"
