# ruff: noqa: E501  (templates are log lines; wrapping them would hide their shape)
"""Generic families: the common English of authentication and access messages, combined.

Applications nobody wrote a parser for still say "login failed for user X from Y" in
one of a few dozen ways. These families combine, at random, a severity prefix, a
failure or success phrase, one of many ways to write the user (`user=X`, `for 'X'`,
`[X]`...) and the peer (`from X`, `rhost=X`, `client: X:port`...), in either order, so
the model learns the *roles* of the slots rather than the wording of known daemons.
The phrases come from general knowledge of how daemons log, not from any dataset's
sample lines, and the program names are invented or generic.
"""

from __future__ import annotations

from logsentry.train.data.template import Family, make_family

_PREFIX = "{|[WARN] |WARNING: |warning: |error: |ERROR |[error] |{level} |<W> |W: |[auth] |auth: |security: |{ts_iso:ts} {level} |{ts_comma:ts} [{level}] |[{ts_iso:ts}] |[{ts_comma:ts}]  {level} {{{module}:{count}}} |{level} [{java_class}] ({word}-thread-{count}) |||||}"
_FAIL = "{|Authentication failed|Login failed|authentication failure|Invalid credentials|Wrong password|Bad password|login incorrect|Failed login|failed login attempt|Unauthorized login attempt|password mismatch|Incorrect password|User authentication failed|Invalid login|Login denied|AUTH FAILED|auth failed|Access denied|Invalid username or password|Bad credentials|authentication error|Login attempt failed|Rejected login|LOGIN FAILURE|login failure}"
_OK = "{|Authentication succeeded|Login successful|Successful login|User logged in|logged in|Accepted login|authenticated|Login OK|LOGIN SUCCESS|Access granted|login succeeded|Session started}"
_USER = "{|for user {user:user}|for '{user:user}'|for \"{user:user}\"|user={user:user}|username={user:user}|user: {user:user}|user '{user:user}'|(user {user:user})|for {user:user}|account {user:user}|[{user:user}]|login={user:user}|user <{user:user}>|for user: {user:user}|User:{user:user}|uid={user:user}}"
_SRC = "{|from {source:src}|from {ip:sip}:{port:sport}|rhost={source:src}|ip={ip:sip}|client {ip:sip}|client: {ip:sip}|remote={ip:sip}|src={ip:sip}|({ip:sip})|[{ip:sip}]|address {ip:sip}|IP: {ip:sip}|client_ip={ip:sip}|host {source:src}|from [{ip:sip}]:{port:sport}|from: {ip:sip}|remote address {ip:sip}|peer={ip:sip}:{port:sport}|via {ip:sip}|from IP {ip:sip}|source {ip:sip} port {port:sport}|from '{ip:sip}'|from \"{ip:sip}\"|'{ip:sip}'|{ipv4:sip}.{port:sport}|from {ip:sip}#{port:sport}|<{ip:sip}>|(::ffff:{ipv4:sip})|from ::ffff:{ipv4:sip}|rhost=::ffff:{ipv4:sip}|host=::ffff:{ipv4:sip}|from host {source:src}|by {ip:sip}|addr={ip:sip}|remote_addr={ip:sip}|RemoteIP: {ip:sip}|src_ip={ip:sip} src_port={port:sport}|rip={ip:sip}|IP-address: {ip:sip}|IP address: {ip:sip}|ipAddress={ip:sip}|remote_ip={ip:sip}|client_addr={ip:sip}|clientIP={ip:sip}|remote-host {source:src}|from host {hostname:saddr} ({ip:sip})|from {hostname:saddr} [{ip:sip}]|(ip {ip:sip})|for {ip:sip}|caller={ip:sip}}"
# The server's own address often follows the client's: it is not the source.
_DST = "{||||||, lip={ip:dip}| to {ip:dip}:{service_port:dport}| local={ip:dip}| (server {ip:dip})| on {ip:dip}| dst={ip:dip} dport={service_port:dport}| -> {ip:dip}:{service_port:dport}}"
_SEP = "{| |, |; | - | -- |: }"
_TAIL = "{||||| (reason: {|bad password|unknown user|account locked|expired|invalid token})| after {small} attempts| attempt {small}| on {|/login|/admin|/api/login|port {service_port:dport}}| [{session_short}]}"


# key=value event records (identity providers, audit trails): the type names the outcome.
_KV_SRC = "{|ipAddress={ip:sip}|ip={ip:sip}|client_ip={ip:sip}|src={ip:sip}|remoteAddr={ip:sip}|addr={ip:sip}}"
_KV_USER = "{|username={user:user}|user={user:user}|userName={user:user}|login={user:user}|account={user:user}}"
_KV_CTX = "{|realmId={word}, |realm={word} |tenant={word} |}{|clientId={word}, |client_id={word} |app={word} |}{|userId={uuid}, |userId=null, |uid={count} |}"

GENERIC_AUTH = make_family("generic_auth", "generic", (
    "authd", "portal", "gateway", "webui", "mgmt-api", "vpnd", "proxyd", "voipd", "chatd", "gamed",
    "dirsrv", "panel", "admin-ui", "console", "hub", "backend", "identity", "sso", "cam-server",
    "nas-web", "router-ui", "helpdesk", "wiki", "crm", "erp", "mediaserver", "app", "server",
), "syslog", [
    ("login_failed", (4.0, [
        _PREFIX + _FAIL + " " + _USER + _SEP + _SRC + _DST + _TAIL,
        _PREFIX + _FAIL + " " + _SRC + _DST + _SEP + _USER + _TAIL,
        _PREFIX + _FAIL + _SEP + _SRC + _TAIL,
        _PREFIX + _FAIL + _SEP + _USER + _TAIL,
        _PREFIX + "{source:src}{| |: | - }" + _FAIL + " " + _USER + _TAIL,
        _PREFIX + _USER + _SEP + _SRC + _SEP + _FAIL + _TAIL,
        _PREFIX + "event={|login_failed|auth_failure|LOGIN_FAILED|failed_login} " + _USER + " " + _SRC,
        _PREFIX + "{|Too many|Repeated|Multiple} {|failed login attempts|authentication failures|login failures} " + _SRC + "{| for {user:user}|}",
        _PREFIX + "{|blocked|locked out|banned|Temporarily blocking} {|user |account |}{user:user} after {small} failed attempts " + _SRC,
        _PREFIX + "{|Unknown user|No such user|User not found|invalid user|unknown account}{|: | }{user:user}" + _SEP + _SRC,
        _PREFIX + "type={|LOGIN_ERROR|LOGIN_FAILED|AUTH_FAILURE|USER_AUTH_FAILED|CLIENT_LOGIN_ERROR}{|, | }" + _KV_CTX + _KV_SRC + "{|, | }{|error={|invalid_user_credentials|user_not_found|invalid_password|user_disabled}{|, | }|}" + _KV_USER,
        _PREFIX + "{|action|event|op}={|login|auth|authenticate} {|result|status|outcome}={|failure|failed|denied|FAIL|error} " + _KV_USER + " " + _KV_SRC,
    ])),
    ("login_success", (2.0, [
        _PREFIX + _OK + " " + _USER + _SEP + _SRC + "{|| (session {session_short})| via {|password|token|sso|2fa}}",
        _PREFIX + _OK + " " + _SRC + _SEP + _USER,
        _PREFIX + "{user:user} " + _OK + " " + _SRC,
        _PREFIX + "event={|login_success|auth_success|LOGIN_OK} " + _USER + " " + _SRC,
        _PREFIX + "type={|LOGIN|CODE_TO_TOKEN|USER_AUTHENTICATED}{|, | }" + _KV_CTX + _KV_SRC + "{|, | }" + _KV_USER + "{|, auth_method=openid-connect|, auth_method=saml|}",
        _PREFIX + "{|action|event|op}={|login|auth|authenticate} {|result|status|outcome}={|success|ok|granted|SUCCESS} " + _KV_USER + " " + _KV_SRC,
    ])),
    ("session_closed", [
        _PREFIX + "{|Logout|logged out|Session closed|session ended|Session expired} " + _USER + "{|| " + _SRC + "}",
        _PREFIX + "{user:user} {|logged out|disconnected|signed out}{|| " + _SRC + "}",
    ]),
    ("other", (2.5, [
        _PREFIX + "{|Password reset requested|Profile updated|Preferences saved|Token refreshed|Settings loaded|Avatar uploaded|2FA enrolled} " + _USER + "{|| " + _SRC + "}",
        _PREFIX + "{|GET|POST} {url_path} {status} {duration_ms}ms " + _SRC,
        _PREFIX + "{|Starting|Loaded|Using} {|authentication backend|session store|user database|LDAP connector} {|ldap|local|sql|pam|oauth2}",
        _PREFIX + "{|Connection|Request|Client connection} {|accepted|established|received} " + _SRC,
        _PREFIX + "{|Cache|Index|Queue|Job} {word} {|rebuilt|flushed|completed|scheduled} in {duration_ms}ms",
        _PREFIX + "{|Heartbeat|Health check|Ping} {|ok|passed|received} " + _SRC,
        _PREFIX + "user {user:user} {|viewed|opened|downloaded|edited} {path:path}",
    ])),
])

GENERIC_ACCESS = make_family("generic_access", "generic", (
    "fwd", "edge", "lb", "guard", "shield", "filterd", "netd", "relay", "tunneld", "dnsd", "syncd",
    "agent", "controller", "ingress", "waf",
), "syslog", [
    ("connection_rejected", (3.0, [
        _PREFIX + "{|Connection refused|Denied connection|Blocked connection|Dropping connection|connection denied|Access denied|Refusing connection|Client not allowed|Denied access} " + _SRC + "{|| (not in allowlist)| by rule {small}| to port {service_port:dport}|: {|policy violation|blacklisted|unknown client|too many connections}}",
        _PREFIX + "{ip:sip}{|:{port:sport}|} {|is not allowed|not permitted|denied|blocked|refused}{| to connect| access|}{||.|!}",
        _PREFIX + "{|refused|denied|rejected} {|query|request|transfer|connect} from {ip:sip}{|#{port:sport}|:{port:sport}|} {|for {vhost}|}",
    ])),
    ("rate_limited", [
        _PREFIX + "{|Too many requests|Rate limit exceeded|rate limiting|Throttling|request limit reached} " + _SRC + "{|| ({count} req/min)| on {url_path:url}}",
        _PREFIX + "{|limiting|throttled|slowing down} {|client|peer|} {ip:sip} {|after|exceeding} {count} {|requests|connections}",
    ]),
    ("connection_opened", [
        _PREFIX + "{|Connection|New connection|Accepted connection|Client connected} " + _SRC + "{|| to port {service_port:dport}| on {ip:dip}:{service_port:dport}}",
    ]),
    ("connection_closed", [
        _PREFIX + "{|Connection closed|Client disconnected|Disconnect|Connection reset|Connection timed out} " + _SRC + "{|| after {duration_s}s| ({size} bytes)}",
    ]),
    ("other", (2.0, [
        _PREFIX + "{|Reloaded|Loaded|Applied} {count} {|rules|routes|entries|zones|peers}",
        _PREFIX + "{|Upstream|Backend|Peer} {ip}:{port} {|is healthy|came up|is up|responded in {duration_ms}ms}",
        _PREFIX + "{|Listening|Bound|Serving} on {|0.0.0.0|[::]|{ip}}:{port}",
        _PREFIX + "{|Stats|Metrics}: {count} {|connections|requests} in {count}s, {size} bytes",
    ])),
])

FAMILIES: tuple[Family, ...] = (GENERIC_AUTH, GENERIC_ACCESS)
