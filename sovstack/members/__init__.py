"""The association's members: accounts (pure), the directory on the server, the welcome mail."""
