"""What runs in the background: the core jobs (outbox delivery, deadline reminders) and each
feature's jobs, with every feature's outbox senders.

``hcp serve`` (unless ``--no-workers``) and ``hcp worker`` both build their jobs here, so the two
always run the same set.  The lists are plain imports, one line a feature.
"""

from __future__ import annotations

from gateway.api import jobs as api_jobs
from gateway.console import triage_retrain
from gateway.core.jobs import Job, standard_jobs
from gateway.core.outbox import Sender
from gateway.core.services import Services
from gateway.email import jobs as email_jobs
from gateway.ops import retention
from gateway.paper import jobs as paper_jobs
from gateway.results import jobs as results_jobs
from gateway.sms import jobs as sms_jobs
from gateway.wechat import jobs as wechat_jobs

JOBS = (email_jobs.jobs, api_jobs.jobs, results_jobs.jobs, paper_jobs.jobs, sms_jobs.jobs, retention.jobs,
        triage_retrain.jobs, wechat_jobs.jobs)
SENDERS = (email_jobs.senders, results_jobs.senders, sms_jobs.senders, wechat_jobs.senders)


def all_senders(services: Services) -> dict[str, Sender]:
    merged: dict[str, Sender] = {}
    for senders in SENDERS:
        merged.update(senders(services))
    return merged


def all_jobs(services: Services) -> list[Job]:
    """The standard jobs (delivering through every configured sender) plus every feature's jobs."""
    return standard_jobs(services, all_senders(services)) + [job for jobs in JOBS for job in jobs(services)]
