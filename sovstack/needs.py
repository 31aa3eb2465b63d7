"""The needs a group can have, spelled once: the questionnaire's choices, the catalog's categories and
the CLI's `--need` all read them here (a leaf module, so `sovstack --help` stays light)."""

NEEDS = ("email", "documents", "files", "chat", "video", "forms", "analytics",
         "lists", "calendar", "knowledge", "events", "polls")
CATEGORIES = NEEDS + ("identity",)  # identity: the tool that gives members one account everywhere
