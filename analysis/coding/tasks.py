from celery import shared_task


@shared_task(name="coding.agreement_report")
def agreement_report_task(job_id: int) -> None:
    from analysis.coding.services.assignments import agreement_report_run

    agreement_report_run(job_id=job_id)
