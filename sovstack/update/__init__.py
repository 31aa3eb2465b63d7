"""`sovstack update`: which versions to move to and roll back to (plan), and doing it on a server (run)."""
