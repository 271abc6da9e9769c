"""The settings of the sample Django project (``django_asgi.py``): no ``CHANNEL_LAYERS``,
no ``channels`` in ``INSTALLED_APPS``."""

SECRET_KEY = "docs-example-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "docs.examples.django_urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
