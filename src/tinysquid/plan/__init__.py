"""plan-cutover: a checked, phased runbook with rollback, from inputs the other commands produce."""
