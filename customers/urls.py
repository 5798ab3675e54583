from django.urls import path, re_path

from customers import api

# Trailing slashes are optional: clients of the contract call /api/customers.
urlpatterns = [
    re_path(r"^customers/?$", api.CustomerCollectionView.as_view(), name="customers"),
    re_path(r"^upload-customers/?$", api.UploadCustomersView.as_view(), name="upload-customers"),
    re_path(r"^orders/?$", api.OrderCreateView.as_view(), name="orders"),
    re_path(r"^wishlists/?$", api.WishlistCreateView.as_view(), name="wishlists"),
    re_path(
        r"^customers/(?P<ref>.+)/send_invite/?$", api.CustomerSendInviteView.as_view(), name="customer-send-invite"
    ),
    re_path(r"^customers/merge/?$", api.CustomerMergeView.as_view(), name="customers-merge"),
    re_path(r"^customers/search/?$", api.CustomerSearchView.as_view(), name="customers-search"),
    re_path(r"^customers/count/?$", api.CustomerCountView.as_view(), name="customers-count"),
    path("customers/<path:ref>/orders", api.CustomerOrdersView.as_view(), name="customer-orders"),
    path("customers/<path:ref>", api.CustomerDetailView.as_view(), name="customer-detail"),
]
