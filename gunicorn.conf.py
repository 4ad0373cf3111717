"""gunicorn settings: ``gunicorn -c gunicorn.conf.py 'app:create_app()'``.

Every worker starts a sampler candidate as soon as it boots; the database
lease lets exactly one of them sample (see helpers/storage/lease.py). Every
worker also starts a mail sender; outbox claims send each message once.
"""
from helpers.config import server_config

_server = server_config()
bind = _server["BIND"]
workers = _server["WEB_CONCURRENCY"]
worker_class = "gthread"
threads = _server["WEB_THREADS"]
accesslog = _server["ACCESS_LOG"]


def on_starting(server):
    """Create and seed the database once, in the master, before workers race for it."""
    from app import create_app

    create_app({"SAMPLER_AUTOSTART": False})


def post_worker_init(worker):
    import logging

    from helpers.runtime.alerting import mailer
    from helpers.runtime import service

    logging.basicConfig(level=_server["LOG_LEVEL"],
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")

    if worker.wsgi.config["SAMPLER_AUTOSTART"]:
        service.ensure_started(worker.wsgi)
    if mailer.autostart(worker.wsgi.config):
        service.ensure_mail_sender(worker.wsgi)


def worker_exit(server, worker):
    from helpers.runtime import service

    service.stop_running()
