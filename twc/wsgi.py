import os

from django.core.wsgi import get_wsgi_application

from twc.gc_tuning import tune_for_bulk_work

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twc.settings")
application = get_wsgi_application()
tune_for_bulk_work()
