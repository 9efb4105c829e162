from django.urls import path, re_path

from bookings import views

app_name = "bookings"
urlpatterns = [
    path("spaces/<slug:slug>/availability/", views.availability, name="availability"),
    path("spaces/<slug:slug>/book/", views.book, name="book"),
    path("spaces/<slug:slug>/book/day-pass/", views.day_pass, name="day_pass"),
    path("spaces/<slug:slug>/rooms/<int:resource_id>/book/", views.book_room, name="book_room"),
    path("bookings/", views.my_bookings, name="mine"),
    path("bookings/<int:booking_id>/cancel/", views.cancel, name="cancel"),
    path("bookings/<int:booking_id>.ics", views.booking_ics, name="ics"),
    path("bookings/calendar/", views.regenerate_feed, name="regenerate_feed"),
    re_path(r"^calendar/(?P<token>[A-Za-z0-9_-]{16,100})\.ics$", views.feed, name="feed"),
]
