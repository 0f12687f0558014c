from django.apps import AppConfig


class ThemesConfig(AppConfig):
    name = "analysis.themes"
    label = "themes"
    verbose_name = "Themes and the PPI board"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A theme lists the codes it draws on: the codebook's delete page counts the links it removes,
        # and a merge hands the source code's themes to the target.
        # A code's comments go with it: moved to the target of a merge, deleted with it (the code.delete
        # audit event counts them).
        from analysis.coding.dependents import CodeDependent, code_dependent_register, code_panel_register
        from analysis.themes.services.comments import code_comments_count, code_comments_move_for_merge
        from analysis.themes.services.themes import theme_codes_count, theme_codes_move_for_merge
        from analysis.themes.views import code_comments_panel

        code_dependent_register(CodeDependent(
            key="theme_links", label="theme link", count=theme_codes_count, merge=theme_codes_move_for_merge,
        ))
        code_dependent_register(CodeDependent(
            key="code_comments", label="comment", count=code_comments_count, merge=code_comments_move_for_merge,
        ))
        code_panel_register("comments", code_comments_panel)
