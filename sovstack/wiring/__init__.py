"""How the tools of one stack are connected: identity, mail, links, analytics, DNS records, DKIM."""
