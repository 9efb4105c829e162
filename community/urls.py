from django.urls import path

from community import views

app_name = "community"
urlpatterns = [
    path("directory/", views.directory, name="directory"),
    path("directory/<int:member_id>/", views.member_profile, name="member"),
    path("settings/", views.settings_page, name="settings"),
    path("alerts/", views.alert_add, name="alert_add"),
    path("alerts/<int:alert_id>/delete/", views.alert_delete, name="alert_delete"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("spaces/<slug:slug>/who-is-in/", views.who_is_in, name="who_is_in"),
    path("board/", views.board, name="board"),
    path("board/<slug:slug>/", views.board, name="space_board"),
    path("posts/new/", views.post_new, name="post_new"),
    path("posts/<int:post_id>/", views.post_detail, name="post"),
    path("posts/<int:post_id>/message/", views.post_message, name="post_message"),
    path("posts/<int:post_id>/fulfil/", views.post_fulfil, name="post_fulfil"),
    path("posts/<int:post_id>/report/", views.post_report, name="post_report"),
    path("events/", views.events, name="events"),
    path("events/new/", views.event_new, name="event_new"),
    path("events/<int:event_id>/", views.event_detail, name="event"),
    path("events/<int:event_id>.ics", views.event_ics, name="event_ics"),
    path("events/<int:event_id>/rsvp/", views.event_rsvp, name="event_rsvp"),
    path("events/<int:event_id>/cancel/", views.event_cancel_rsvp, name="event_cancel_rsvp"),
    path("events/<int:event_id>/decide/", views.event_decide, name="event_decide"),
    path("events/<int:event_id>/proposals/", views.proposal_add, name="proposal_add"),
    path("proposals/<int:proposal_id>/vote/", views.proposal_vote, name="proposal_vote"),
]
