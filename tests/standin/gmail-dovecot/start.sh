# The stand-in for Gmail's IMAP: a second Dovecot (Debian's, already on the sandbox) on 127.0.0.1:10143
# only, with Gmail-shaped folders and SPECIAL-USE flags (French names for Trash and Starred, as a
# localised account shows them). Its password arrives in /root/standin-pass. Tests only.
set -eu
install -d -m 0755 /etc/dovecot-src /srv/src
chown vmail:vmail /srv/src
cat > /etc/dovecot-src/dovecot.conf <<'CONF'
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
protocols = imap
listen = 127.0.0.1
base_dir = /run/dovecot-src
state_dir = /var/lib/dovecot-src
instance_name = dovecot-src
log_path = /var/log/dovecot-src.log
ssl = no
auth_allow_cleartext = yes
mail_driver = maildir
mail_path = /srv/src/%{user}/Maildir
mail_uid = vmail
mail_gid = vmail
first_valid_uid = 100
namespace inbox {
  inbox = yes
  separator = /
  mailbox "[Gmail]/All Mail" {
    special_use = \All
  }
  mailbox "[Gmail]/Sent Mail" {
    special_use = \Sent
  }
  mailbox "[Gmail]/Spam" {
    special_use = \Junk
  }
  mailbox "[Gmail]/Corbeille" {
    special_use = \Trash
  }
  mailbox "[Gmail]/Suivis" {
    special_use = \Flagged
  }
  mailbox "[Gmail]/Important" {
    special_use = \Important
  }
}
passdb passwd-file {
  passwd_file_path = /etc/dovecot-src/users
}
userdb static {
  fields {
    uid = vmail
    gid = vmail
    home = /srv/src/%{user}
  }
}
service imap-login {
  inet_listener imap {
    port = 10143
  }
  inet_listener imaps {
    port = 0
  }
}
service doveadm {
  unix_listener doveadm-server {
    mode = 0600
  }
}
CONF
umask 027
printf '%s:{PLAIN}%s\n' alice@old.example "$(cat /root/standin-pass)" > /etc/dovecot-src/users
chgrp dovecot /etc/dovecot-src/users
dovecot -c /etc/dovecot-src/dovecot.conf </dev/null >/dev/null 2>&1
