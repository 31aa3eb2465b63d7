#!/bin/sh
# sovstack: make LemonLDAP::NG's configuration exactly sovstack's (lmConf.json, rendered from the stack)
# plus the OpenID Connect signing key made on this server once. It is written as the File backend's
# only version, lmConf-1.json (the backend's own format: one JSON file per version), so Debian's Demo
# configuration (sample accounts that log in with their name as password) and any version made in a
# manager are gone and no rollback can bring them back. `--check` exits 0 when it is in place.
set -eu
dir=/etc/sovstack/lemonldap-ng
conf=/var/lib/lemonldap-ng/conf
applied=/var/lib/lemonldap-ng/sovstack-applied.sha256
wanted() { cat "$dir/lmConf.json" "$dir/oidc-signing.key" 2>/dev/null | sha256sum | cut -d' ' -f1; }
if [ "${1:-}" = --check ]; then
    [ -s "$dir/oidc-signing.key" ] && [ "$(cat "$applied" 2>/dev/null)" = "$(wanted)" ] &&
        [ "$(ls "$conf")" = lmConf-1.json ] && grep -q '"cfgAuthor":"sovstack"' "$conf/lmConf-1.json"
    exit $?
fi
umask 077
[ -s "$dir/oidc-signing.key" ] || openssl genrsa -out "$dir/oidc-signing.key" 2048 2>/dev/null
openssl rsa -in "$dir/oidc-signing.key" -pubout -out "$dir/oidc-signing.pub" 2>/dev/null
# The key pair joins the rendered configuration here (files to files, never in an argument); the
# handler reloads a configuration whose number or date changed, so it gets the time of writing.
perl -MJSON::PP -e '
    local $/; open my $c, "<", $ARGV[0] or die; my $conf = JSON::PP->new->decode(<$c>);
    open my $k, "<", $ARGV[1] or die; $conf->{oidcServicePrivateKeySig} = <$k>;
    open my $p, "<", $ARGV[2] or die; $conf->{oidcServicePublicKeySig} = <$p>;
    $conf->{cfgNum} = 1; $conf->{cfgDate} = time;
    print JSON::PP->new->canonical->encode($conf);
' "$dir/lmConf.json" "$dir/oidc-signing.key" "$dir/oidc-signing.pub" > "$conf/.sovstack-new"
chown www-data:www-data "$conf/.sovstack-new" && chmod 0640 "$conf/.sovstack-new"
find "$conf" -maxdepth 1 -name 'lmConf-*' -delete
mv "$conf/.sovstack-new" "$conf/lmConf-1.json"
# The portal reads the new configuration at once, and sessions opened under an earlier one end.
rm -rf /var/cache/lemonldap-ng/* /var/lib/lemonldap-ng/sessions/[!l]*
systemctl restart lemonldap-ng-fastcgi-server
wanted > "$applied"
