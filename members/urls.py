from django.urls import path

from members import views

app_name = "members"
urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("delete/", views.delete_account, name="delete"),
]
