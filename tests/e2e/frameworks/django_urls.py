"""The Django view of the Django app: plain HTTP beside the consumers."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello from django", content_type="text/plain")


urlpatterns = [path("hello/", hello)]
