"""Every workflow type a worker runs: what the golden-history tests and auditors' replays check."""

from workflows.alert_workflow import BreakGlassAlertWorkflow
from workflows.case_workflow import CaseWorkflow
from workflows.checkpoint_workflow import CheckpointWorkflow
from workflows.court_report_workflow import CourtReportWorkflow
from workflows.fhir_task_poll_workflow import FhirTaskPollWorkflow
from workflows.referral_workflow import ReferralWorkflow
from workflows.retention_workflow import RetentionWorkflow

WORKFLOWS = [
    CaseWorkflow,
    ReferralWorkflow,
    CourtReportWorkflow,
    RetentionWorkflow,
    BreakGlassAlertWorkflow,
    CheckpointWorkflow,
    FhirTaskPollWorkflow,
]
