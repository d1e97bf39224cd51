from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "tongban.cases"
    verbose_name = "办件"

    def ready(self) -> None:
        # The exchange gateway asks whether a lookup's case is an open case of the calling
        # department (exchange is inner to cases, so cases plugs the answer in).
        from tongban.exchange.services import case_checker_register

        from .submission.selectors import case_state_for_department

        case_checker_register(case_state_for_department)
