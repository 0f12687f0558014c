from celery import shared_task

from analysis.transcripts.services import imports


@shared_task(name="transcripts.transcript_import")
def transcript_import(job_id: int) -> None:
    imports.import_run(job_id=job_id)
