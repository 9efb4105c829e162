from django.urls import path

from members import views

app_name = "members"
urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("delete/", views.delete_account, name="delete"),
    path("api-tokens/", views.api_tokens, name="api_tokens"),
    path("api-tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
