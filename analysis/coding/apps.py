from django.apps import AppConfig


class CodingConfig(AppConfig):
    name = "analysis.coding"
    label = "coding"
    verbose_name = "Codebook, coding and agreement"

    def ready(self) -> None:
        # Codings point at codes: the codebook's merge and delete move or remove them.
        from analysis.coding.dependents import CodeDependent, code_dependent_register
        from analysis.coding.services.codings import (
            codings_count_for_codes,
            codings_delete_for_codes,
            codings_merge_codes,
        )

        code_dependent_register(CodeDependent(
            key="codings", label="coding", count=codings_count_for_codes, merge=codings_merge_codes,
            delete=codings_delete_for_codes,
        ))
