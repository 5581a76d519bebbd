from django.urls import path

from . import catalog, views

urlpatterns = [
    path("whoami", views.whoami, name="api_whoami"),
    *[path(name, view, name=f"api_{name}") for name, view in catalog.VIEWS.items()],
]
