"""申报与办件: an application submitted once (idempotently), the case it opens and every staff
action on it — the seam the other sub-packages of `cases` build on.

Public: `services` (application_submit, case_transition, case_resubmit, and the building blocks
bundles and cross-region reuse: submission_validate, materials_store, shared_data_store,
case_number_next, step_record, transition_apply), `selectors` (reads, always scoped),
`presenters` (rows and timelines for pages and the API), `materials` (file housekeeping),
`api` (the routers).
"""
