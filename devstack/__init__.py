"""Local servers for development, tests and benchmarks: PostgreSQL, Valkey, an SMTP catcher."""
