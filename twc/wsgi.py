import os

from django.core.wsgi import get_wsgi_application

from twc.gc_tuning import tune_for_bulk_work
from twc.statement_timeout import enable_statement_timeout

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twc.settings")
application = get_wsgi_application()
tune_for_bulk_work()
# Only processes that serve requests: commands never load this module, so they run uncut.
enable_statement_timeout()
