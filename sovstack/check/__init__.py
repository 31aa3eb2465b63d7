"""`sovstack check`: findings about a stack and its servers (run), the servers' own diagnosis (servers), DNS (dns)."""
