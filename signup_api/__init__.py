"""The HTTP API: signup, confirmation, health; built on Starlette."""
