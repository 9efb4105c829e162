from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from coworking import admin_views, views
from coworking.api import api
from spaces import views as space_views

# The admin login goes through allauth's, so its rate limits and e-mail verification apply there too.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = _("Coworking administration")
admin.site.site_title = _("Coworking")

urlpatterns = [
    path("", space_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("members.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("billing.urls")),
    path("spaces/", include("spaces.urls")),
    path("", include("bookings.urls")),
    path("community/", include("community.urls")),
    path("admin/exports/", include("coworking.export_views")),
    # The managers' dashboard (coworking.admin_views): the admin index with it, a page per space, the
    # check-in list. Before admin.site.urls so that /admin/ is the dashboard's; admin_view checks staff.
    path("admin/", admin.site.admin_view(admin_views.index), name="admin_dashboard"),
    path(
        "admin/dashboard/<int:space_id>/",
        admin.site.admin_view(admin_views.space_dashboard),
        name="admin_dashboard_space",
    ),
    path(
        "admin/dashboard/<int:space_id>/check-in/",
        admin.site.admin_view(admin_views.check_in),
        name="admin_dashboard_check_in",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
