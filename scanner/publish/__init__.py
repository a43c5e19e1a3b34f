"""Sending a run's findings to where security teams work (Security Hub). These modules talk to AWS;
the report writers they send from (scanner.report) never do."""
