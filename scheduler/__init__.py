"""Scheduled outreach: reminders and broadcasts driven by APScheduler (built in a later issue)."""
