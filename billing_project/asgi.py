import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
application = get_asgi_application()

from billing_project.core.secret_key import require_secret_key  # noqa: E402

require_secret_key()
