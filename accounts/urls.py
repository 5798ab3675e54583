from django.urls import re_path

from accounts import api

# Trailing slashes are optional, as for the customer endpoints.
urlpatterns = [
    re_path(r"^accounts/sign_in/?$", api.SignInView.as_view(), name="accounts-sign-in"),
    re_path(r"^accounts/recover/?$", api.RecoverView.as_view(), name="accounts-recover"),
    re_path(
        r"^customers/(?P<ref>.+)/send_password_reset/?$",
        api.SendPasswordResetView.as_view(),
        name="customer-send-password-reset",
    ),
    re_path(r"^me/?$", api.MeView.as_view(), name="me"),
    re_path(r"^me/password/?$", api.MePasswordView.as_view(), name="me-password"),
    re_path(r"^me/orders/?$", api.MeOrdersView.as_view(), name="me-orders"),
    re_path(r"^me/wishlists/?$", api.MeWishlistsView.as_view(), name="me-wishlists"),
    re_path(r"^me/sign_out/?$", api.MeSignOutView.as_view(), name="me-sign-out"),
]
