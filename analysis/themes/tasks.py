from celery import shared_task


@shared_task(name="themes.report")
def themes_report_task(job_id: int) -> None:
    from analysis.themes.services.reports import themes_report_run

    themes_report_run(job_id=job_id)


@shared_task(name="themes.board_digests")
def board_digests_task() -> int:
    """For a Celery beat schedule, as an alternative to the management command."""
    from analysis.themes.services.board import board_digests_send

    return board_digests_send()
