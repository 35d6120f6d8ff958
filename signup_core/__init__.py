"""Shared core of signet-signup: settings, database, mail, tokens; no web or queue framework."""
