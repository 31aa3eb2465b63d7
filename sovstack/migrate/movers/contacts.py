"""`sovstack migrate contacts`: Takeout .vcf files into the member's Radicale (movers/dav.py)."""

from sovstack.migrate.movers.dav import DavMover

MOVER = DavMover("contacts")
