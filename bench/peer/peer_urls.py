"""URLs for the peer: django-helpdesk's own (its templates reverse them in letters)."""

from django.urls import include, path

urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
