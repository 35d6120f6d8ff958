"""`signupctl doctor`'s checks: why the service will not start, or why mail will not arrive.
Each check returns Results (results.py); nothing here prints, exits or imports click."""
