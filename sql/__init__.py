"""The migrations and named queries, installed as the package `signup_core.sql` (see
pyproject.toml), so an installed service finds them through importlib.resources."""
