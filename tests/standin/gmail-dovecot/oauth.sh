# Lets the stand-in take OAuth access tokens (SASL XOAUTH2, OAUTHBEARER) as Gmail does: Dovecot asks a
# local userinfo endpoint (playing Google's, 127.0.0.1:18080) whether the bearer token in
# /root/standin-token is good. Tests only.
set -eu
cat > /root/userinfo.py <<'PY'
import http.server, json
TOKEN = open("/root/standin-token").read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Authorization") == "Bearer " + TOKEN
        body = json.dumps({"email": "alice@old.example"} if ok else {"error": "invalid"}).encode()
        self.send_response(200 if ok else 401); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): open("/root/userinfo.log", "a").write(self.headers.get("Authorization", "-")[:12] + "\n")
http.server.HTTPServer(("127.0.0.1", 18080), H).serve_forever()
PY
nohup python3 /root/userinfo.py </dev/null >/dev/null 2>&1 &
C=/etc/dovecot-src/dovecot.conf
grep -q oauth2_introspection_url $C || cat >> $C <<'CONF'
auth_mechanisms = plain xoauth2 oauthbearer
oauth2_introspection_mode = auth
oauth2_introspection_url = http://127.0.0.1:18080/userinfo
oauth2_username_attribute = email
CONF
doveadm -c $C reload 2>&1 || true
sleep 1
tail -3 /var/log/dovecot-src.log
