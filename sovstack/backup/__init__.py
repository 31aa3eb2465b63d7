"""Day-2 backups: what to back up, decided at render time (plan, dumps), and running it on servers (run)."""
