from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from coworking import views
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
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
