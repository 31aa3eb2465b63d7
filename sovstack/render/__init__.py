"""From a stack to the files of each server: the manifest (bundle), env files, the members' portal."""
