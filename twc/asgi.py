import os

from django.core.asgi import get_asgi_application

from twc.statement_timeout import enable_statement_timeout

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twc.settings")
application = get_asgi_application()
# As twc/wsgi.py: a process that serves requests cuts slow statements; commands never load this.
enable_statement_timeout()
