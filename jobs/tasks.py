from celery import shared_task

from . import services


@shared_task(name="jobs.sweep", ignore_result=True)
def jobs_sweep() -> None:
    services.jobs_sweep()
