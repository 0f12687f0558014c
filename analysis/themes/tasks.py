from celery import shared_task


@shared_task(name="themes.report")
def themes_report_task(job_id: int) -> None:
    from analysis.themes.services import themes_report_run

    themes_report_run(job_id=job_id)
