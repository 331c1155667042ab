"""Every button and form id, shared by Slack ``action_id``/``callback_id`` and Teams card data."""

from enum import StrEnum


class ActionId(StrEnum):
    # answers
    SHARE_IN_CHANNEL = "share_in_channel"
    # SLA breach alerts
    BREACH_ACKNOWLEDGE = "breach_acknowledge"
    BREACH_OPEN_ESCALATION = "breach_open_escalation"
    BREACH_MUTE = "breach_mute"
    # escalations
    ESCALATION_ACKNOWLEDGE = "escalation_acknowledge"
    ESCALATION_ESCALATE_NOW = "escalation_escalate_now"
    ESCALATION_REASSIGN = "escalation_reassign"
    ESCALATION_ADD_NOTE = "escalation_add_note"
    ESCALATION_RESOLVE = "escalation_resolve"
    ESCALATION_REOPEN = "escalation_reopen"
    # feedback, reverse reports, QBR
    FEEDBACK_OPEN_FORM = "feedback_open_form"
    REPORT_ACKNOWLEDGE = "report_acknowledge"
    QBR_ACTION_DONE = "qbr_action_done"
    # announcements (change rollout)
    ANNOUNCEMENT_ACKNOWLEDGE = "announcement_acknowledge"
    ANNOUNCEMENT_QUESTION = "announcement_question"
    ANNOUNCEMENT_TRAINING = "announcement_training"
    # dashboard: a link button (Home) or a button answering with a personal link (digests)
    OPEN_DASHBOARD = "open_dashboard"


class FormId(StrEnum):
    """Ids of neutral forms (Slack modal ``callback_id``, Teams card ``form`` data)."""

    ESCALATION_FILE = "escalation_file"
    ESCALATION_RESOLVE = "escalation_resolve_form"
    ESCALATION_NOTE = "escalation_note_form"
    ESCALATION_REASSIGN = "escalation_reassign_form"
    FEEDBACK = "feedback_form"
    REVERSE_REPORT = "reverse_report_form"
    QBR_SCHEDULE = "qbr_schedule_form"
    ANNOUNCEMENT = "announcement_form"
    ANNOUNCEMENT_QUESTION = "announcement_question_form"
    ANNOUNCEMENT_TRAINING = "announcement_training_form"
