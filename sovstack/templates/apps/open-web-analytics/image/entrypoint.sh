#!/bin/sh
# owa-data (a volume) holds OWA's logs and caches; Apache (www-data) writes there.
set -e
chown www-data:www-data /var/www/html/owa-data
exec "$@"
