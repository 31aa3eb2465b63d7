"""How the tools of one stack are connected: `wire(stack, catalog)` (wire.py) gives the Wiring (model.py),
built from identity.py, mail.py and analytics.py; links.py lists the wires; DNS records and DKIM too."""
