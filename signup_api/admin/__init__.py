"""The admin HTTP API: the operator's actions (the same as signupctl's) over JSON, on a listener
of its own, behind JWT bearer tokens."""
