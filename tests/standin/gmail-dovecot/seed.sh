# Seeds the stand-in: mail in INBOX, a label folder, a non-ASCII folder, Gmail's views (All Mail with
# every message again plus archived mail without a label and one without Message-ID, Starred,
# Important), Spam, Trash and Chats; flags \Seen and \Flagged. Tests only.
set -eu
C=/etc/dovecot-src/dovecot.conf
U=alice@old.example
mk() { # id subject [no-id]
  if [ "${3:-}" = noid ]; then mid=""; else mid="Message-ID: <$1@gmail.example>\r\n"; fi
  printf "From: Bob <bob@example.net>\r\nTo: $U\r\nSubject: %s\r\nDate: Mon, 01 Jan 2024 10:00:00 +0100\r\n${mid}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of %s, caf\xc3\xa9.\r\n" "$2" "$2"
}
put() { # folder id subject [noid]
  mk "$2" "$3" "${4:-}" | doveadm -c $C save -u $U -m "$1"
}
doveadm -c $C mailbox create -u $U "Réunions/2024" Projets "[Gmail]/All Mail" "[Gmail]/Sent Mail" "[Gmail]/Spam" "[Gmail]/Corbeille" "[Gmail]/Suivis" "[Gmail]/Important" "[Gmail]/Chats"
for i in 1 2 3; do put INBOX inbox-$i "inbox $i"; done
put "[Gmail]/Sent Mail" sent-1 "sent 1"
put "Réunions/2024" reunion-1 "réunion 1"
put Projets projet-1 "projet 1"
put INBOX projet-1 "projet 1"            # two labels: Inbox and Projets
put "[Gmail]/Spam" spam-1 "spam 1"
put "[Gmail]/Corbeille" trash-1 "trash 1"
put "[Gmail]/Chats" chat-1 "chat 1"
# Gmail's views: All Mail holds every message but Spam and Trash; Starred and Important hold copies.
for m in inbox-1:"inbox 1" inbox-2:"inbox 2" inbox-3:"inbox 3" sent-1:"sent 1" reunion-1:"réunion 1" projet-1:"projet 1"; do
  put "[Gmail]/All Mail" "${m%%:*}" "${m#*:}"
done
put "[Gmail]/All Mail" archived-1 "archived, no label"
put "[Gmail]/All Mail" x "no message id at all" noid
put "[Gmail]/Suivis" inbox-1 "inbox 1"
put "[Gmail]/Important" inbox-2 "inbox 2"
doveadm -c $C flags add -u $U '\Seen' mailbox INBOX 1:2
doveadm -c $C flags add -u $U '\Flagged' mailbox INBOX 1
doveadm -c $C mailbox status -u $U messages '*'
