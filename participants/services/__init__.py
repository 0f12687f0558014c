"""Writes for participants, consent, imports, sampling, exports and purges.

Keyword-only, typed, ``<entity>_<action>``; each checks its permission through the policy module
and wraps its writes and their audit events in one transaction.
"""

from .consent import (
    STANDARD_ITEMS,
    ItemSpec,
    consent_derive,
    consent_event_correct,
    consent_event_record,
    consent_form_create,
    consent_signed_form_attach,
    consent_signed_form_read,
    consent_state_refresh,
    participant_withdraw,
)
from .exports import participants_export_allowed, participants_export_run, participants_export_start
from .imports import (
    ImportReport,
    consent_import,
    import_batch_create,
    import_batch_done,
    import_batch_get,
    participants_import,
)
from .participants import (
    attribute_create,
    attribute_delete,
    participant_create,
    participant_identifiable_read,
    participant_update,
)
from .purge import participant_purge_retry, participant_purge_run, participant_purge_start
from .sampling import sampling_targets_set

__all__ = [
    "STANDARD_ITEMS",
    "ImportReport",
    "ItemSpec",
    "attribute_create",
    "attribute_delete",
    "consent_derive",
    "consent_event_correct",
    "consent_event_record",
    "consent_form_create",
    "consent_import",
    "consent_signed_form_attach",
    "consent_signed_form_read",
    "consent_state_refresh",
    "import_batch_create",
    "import_batch_done",
    "import_batch_get",
    "participant_create",
    "participant_identifiable_read",
    "participant_purge_retry",
    "participant_purge_run",
    "participant_purge_start",
    "participant_update",
    "participant_withdraw",
    "participants_export_allowed",
    "participants_export_run",
    "participants_export_start",
    "participants_import",
    "sampling_targets_set",
]
