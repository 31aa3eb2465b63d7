#!/bin/sh
# Seed the upload volume with the files the release ships (themes, default files) without
# overwriting anything, and let Apache (www-data) write there.
set -e
cp -a -n /usr/share/limesurvey/upload.dist/. /var/www/html/upload/
chown -R www-data:www-data /var/www/html/upload
exec "$@"
