from django.urls import path

from spaces import views

app_name = "spaces"
urlpatterns = [
    path("<slug:slug>/", views.space_detail, name="detail"),
]
