from celery import shared_task


@shared_task(name="coding.agreement_report")
def agreement_report_task(job_id: int) -> None:
    from analysis.coding.services.assignments import agreement_report_run

    agreement_report_run(job_id=job_id)


@shared_task(name="coding.coded_export")
def coded_export_task(job_id: int) -> None:
    from analysis.coding.services.exports import coded_export_run

    coded_export_run(job_id=job_id)
