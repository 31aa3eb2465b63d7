"""The stack file (sovstack.yml), its draft from a recommendation (init), and its secrets."""
