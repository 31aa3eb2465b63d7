"""Putting a rendered bundle on servers: preflight and apply, SSH, the Ansible and pyinfra runners, the sandbox."""
