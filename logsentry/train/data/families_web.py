# ruff: noqa: E501  (templates are log lines; wrapping them would hide their shape)
"""Web families: nginx and Apache access and error logs, ModSecurity, HAProxy, Squid,
and web applications (Roundcube, Grafana, GitLab, WordPress).

Access-log lines are labelled `web_request` unless the request carries an attack
payload (SQLi, XSS, traversal, command injection, Log4Shell, Shellshock, scanner
probes of well-known sensitive paths, binary garbage), then `web_attack_attempt`:
the label follows from the text of the line, as the model must decide it.
"""

from __future__ import annotations

from logsentry.train.data.template import Family, make_family

_REQ = '"{method:method} {url_path:url} HTTP/{|1.1|1.1|1.0|2.0}"'
_ATTACK_REQ = '"{method:method} {attack_url:url} HTTP/{|1.1|1.1|1.0}"'
_TAIL = ' {status:status} {size} "{referer}" "{user_agent:ua}"'
_ATTACK_TAIL = ' {status:status} {size} "{referer}" "{attacker_agent:ua}"'


def _access(prefix: str) -> tuple[list[str], list[str]]:
    """Benign and attack templates of the combined log format behind `prefix`."""
    benign = [
        prefix + "{source:src} - - [{ts_clf:ts}] " + _REQ + _TAIL,
        prefix + "{source:src} - {plain_user:user} [{ts_clf:ts}] " + _REQ + _TAIL,
        prefix + "{source:src} - - [{ts_clf:ts}] " + _REQ + " {status:status} {size}",
        prefix + "{ip:sip} - - [{ts_clf:ts}] " + _REQ + _TAIL + ' "{ip}"',
        prefix + "{ip:sip} - - [{ts_clf:ts}] " + _REQ + _TAIL + " rt={duration_s} uct={duration_s} urt={duration_s}",
        prefix + "{ip:sip} {vhost} - [{ts_clf:ts}] " + _REQ + _TAIL,
    ]
    attack = [
        prefix + "{source:src} - - [{ts_clf:ts}] " + _ATTACK_REQ + _TAIL,
        prefix + "{source:src} - - [{ts_clf:ts}] " + _ATTACK_REQ + _ATTACK_TAIL,
        prefix + "{source:src} - - [{ts_clf:ts}] " + _REQ + ' {status:status} {size} "-" "{shellshock:ua}"',
        prefix + "{source:src} - - [{ts_clf:ts}] " + _REQ + ' {status:status} {size} "{jndi}" "{user_agent:ua}"',
        prefix + "{source:src} - - [{ts_clf:ts}] " + _ATTACK_REQ + " {status:status} {size}",
        prefix + '{source:src} - - [{ts_clf:ts}] "{binary_request}" {@400|400|444|408:status} {size} "-" "-"',
        prefix + '{source:src} - {|-|{plain_user:user}} [{ts_clf:ts}] "{|{@CONNECT:method} {proxy_connect:url}|{@GET|POST:method} {proxy_url:url}} HTTP/1.{|0|1}" {@400|405|403|200:status} {size} "-" "{|-|{user_agent:ua}}"',
        prefix + '{source:src} - - [{ts_clf:ts}] "{binary_request}" {@400|400|444|408:status} {size}',
    ]
    return benign, attack


_NGINX_BENIGN, _NGINX_ATTACK = _access("")
_APACHE_BENIGN, _APACHE_ATTACK = _access("")
_APACHE_VHOST_BENIGN, _APACHE_VHOST_ATTACK = _access("{vhost}:{|80|443} ")

NGINX_ACCESS = make_family("nginx_access", "web", ("nginx",), "file", [
    ("web_request", (3.0, _NGINX_BENIGN)),
    ("web_attack_attempt", (2.0, _NGINX_ATTACK)),
])

APACHE_ACCESS = make_family("apache_access", "web", ("apache2", "httpd", "apache"), "file", [
    ("web_request", (3.0, _APACHE_BENIGN + _APACHE_VHOST_BENIGN)),
    ("web_attack_attempt", (2.0, _APACHE_ATTACK + _APACHE_VHOST_ATTACK)),
])

_NG = "{ts_slash:ts} [{|error|error|warn|crit}] {pid:pid}#{small}: *{count} "
_NG_CTX = ', client: {ip:sip}, server: {vhost#h}, request: "{method:method} {url_path:url} HTTP/1.1", host: "{vhost#h}"'
_NG_CTX_SHORT = ", client: {ip:sip}, server: {vhost}"

NGINX_ERROR = make_family("nginx_error", "web", ("nginx",), "file", [
    ("web_auth_failed", (3.0, [
        _NG + 'user "{user:user}" was not found in "{htpasswd:path}"' + _NG_CTX,
        _NG + 'user "{user:user}": password mismatch' + _NG_CTX,
        _NG + "no user/password was provided for basic authentication" + _NG_CTX,
        _NG + 'user "{user:user}": password mismatch' + _NG_CTX_SHORT,
        _NG + 'user "{user:user}" was not found in "{htpasswd:path}"' + _NG_CTX_SHORT,
    ])),
    ("rate_limited", (2.0, [
        _NG + 'limiting requests, excess: {small}.{small}{small}0 by zone "{zone}"' + _NG_CTX,
        _NG + 'limiting connections by zone "{zone}"' + _NG_CTX,
        _NG + 'delaying request, excess: {small}.{small}{small}0, by zone "{zone}"' + _NG_CTX,
    ])),
    ("connection_rejected", [
        _NG + "access forbidden by rule" + _NG_CTX,
        _NG + "client intended to send too large body: {size} bytes" + _NG_CTX,
        # A client's failed TLS handshake is a refused connection, as in the haproxy and
        # openvpn families (scanners and bots speaking the wrong protocol cause most).
        _NG + "SSL_do_handshake() failed (SSL: error:{hex_id}:SSL routines:{|:|ssl3_get_record:|tls_early_post_process_client_hello:|ssl3_read_bytes:}{|bad key share|wrong version number|http request|unsupported protocol|no shared cipher|version too low|record layer failure|packet length too long}) while SSL handshaking, client: {ip:sip}, server: {|0.0.0.0|[::]|{ip}}:443",
        _NG + "SSL_read() failed (SSL: error:{hex_id}:SSL routines::{|bad record mac|decryption failed or bad record mac}) while waiting for request, client: {ip:sip}, server: 0.0.0.0:443",
    ]),
    ("web_attack_attempt", (1.5, [
        _NG + 'open() "{attack_file:path}" failed (2: No such file or directory), client: {ip:sip}, server: {vhost#h}, request: "{method:method} {last_request_path:url} HTTP/1.1", host: "{vhost#h}"',
        _NG + 'directory index of "{web_root}/{word}/" is forbidden' + ', client: {ip:sip}, server: {vhost#h}, request: "GET {attack_url:url} HTTP/1.1", host: "{vhost#h}"',
        _NG + 'client sent invalid request while reading client request line, client: {ip:sip}, server: {vhost}, request: "{binary_request}"',
        _NG + 'client sent invalid method while reading client request line, client: {ip:sip}, server: {vhost}, request: "{binary_request}"',
    ])),
    ("other", (1.5, [
        _NG + "upstream timed out (110: Connection timed out) while reading response header from upstream" + _NG_CTX + ', upstream: "http://127.0.0.1:{port}{url_path}"',
        _NG + "connect() failed (111: Connection refused) while connecting to upstream" + _NG_CTX + ', upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:"',
        _NG + 'open() "{benign_file:path}" failed (2: No such file or directory), client: {ip:sip}, server: {vhost#h}, request: "GET {last_request_path:url} HTTP/1.1", host: "{vhost#h}"',
        _NG + "recv() failed (104: Connection reset by peer) while reading response header from upstream" + _NG_CTX,
        _NG + 'FastCGI sent in stderr: "PHP message: PHP Warning:  Undefined variable $x in {path:path} on line {count}"' + _NG_CTX,
        "{ts_slash:ts} [notice] {pid:pid}#{pid}: signal process started",
        "{ts_slash:ts} [notice] {pid:pid}#{pid}: using inherited sockets from \"6;7;\"",
        "{ts_slash:ts} [warn] {pid:pid}#{pid}: conflicting server name \"{vhost}\" on 0.0.0.0:80, ignored",
    ])),
    ("service_crash", [
        "{ts_slash:ts} [alert] {pid:pid}#{pid}: worker process {pid} exited on signal {|11|6|9}",
        "{ts_slash:ts} [alert] {pid:pid}#{pid}: worker process {pid} exited on signal 11 (core dumped)",
    ]),
    ("config_change", [
        "{ts_slash:ts} [notice] {pid:pid}#{pid}: signal 1 (SIGHUP) received from {pid}, reconfiguring",
        "{ts_slash:ts} [notice] {pid:pid}#{pid}: reconfiguring",
    ]),
    ("service_stop", [
        "{ts_slash:ts} [notice] {pid:pid}#{pid}: signal 15 (SIGTERM) received from {pid}, exiting",
        "{ts_slash:ts} [notice] {pid:pid}#{pid}: exiting",
    ]),
])

_AP24 = "[{ts_apache_error:ts}] [{module}:{|error|error|warn|info}] [pid {pid:pid}{|:tid 140{digits_12}|}] [client {ip:sip}:{port:sport}] "
_AP22 = "[{ts_apache_error:ts}] [error] [client {ip:sip}] "

APACHE_ERROR = make_family("apache_error", "web", ("apache2", "httpd"), "file", [
    ("web_auth_failed", (3.0, [
        _AP24 + "AH01617: user {user:user}: authentication failure for \"{url_path:url}\": Password Mismatch",
        _AP24 + "AH01618: user {user:user} not found: {url_path:url}",
        _AP24 + "AH01614: client used wrong authentication scheme: {url_path:url}",
        _AP24 + "AH01615: Digest: user `{user:user}' in realm `{word}' not found: {url_path:url}",
        _AP24 + "AH01775: Digest: user {user:user}: password mismatch: {url_path:url}",
        _AP24 + "AH01790: user {user:user}: authorization failure for \"{url_path:url}\": ",
        _AP22 + "user {user:user}: authentication failure for \"{url_path:url}\": Password Mismatch",
        _AP22 + "user {user:user} not found: {url_path:url}",
        _AP24 + "AH01628: authorization failure (no authenticated user): {path:path}",
    ])),
    ("connection_rejected", (1.5, [
        _AP24 + "AH01797: client denied by server configuration: {path:path}",
        _AP24 + "AH01630: client denied by server configuration: {path:path}",
        _AP22 + "client denied by server configuration: {path:path}",
        _AP24 + "AH00128: File does not exist: {web_root}/.htaccess",
    ])),
    ("web_attack_attempt", (2.0, [
        _AP24 + "AH01264: script not found or unable to stat: {attack_file:path}",
        _AP22 + "script '{attack_file:path}' not found or unable to stat",
        _AP24 + "AH10244: invalid URI path ({attack_path:url})",
        _AP24 + "AH00128: File does not exist: {attack_file:path}",
        _AP22 + "File does not exist: {attack_file:path}",
        _AP24 + "AH00126: Invalid URI in request {method:method} {attack_url:url} HTTP/1.1",
        _AP24 + "AH02429: Response header name '() {{ :; }}; /bin/bash' contains invalid characters, aborting request",
        _AP24 + "AH00566: request failed: malformed request line",
        _AP24 + "AH01215: /bin/bash: warning: HTTP_{word}: ignoring function definition attempt",
        _AP24 + "AH01215: /bin/bash: error importing function definition for `HTTP_{word}'",
    ])),
    ("other", [
        "[{ts_apache_error:ts}] [mpm_prefork:notice] [pid {pid:pid}] AH00163: Apache/2.4.{small}{small} (Debian) configured -- resuming normal operations",
        "[{ts_apache_error:ts}] [core:notice] [pid {pid:pid}] AH00094: Command line: '/usr/sbin/apache2'",
        _AP24 + "AH01071: Got error 'PHP message: PHP Notice:  Undefined index: {word} in {path:path} on line {count}'",
        _AP24 + "AH00128: File does not exist: {benign_file:path}",
        "[{ts_apache_error:ts}] [ssl:warn] [pid {pid:pid}] AH01909: {vhost}:443:0 server certificate does NOT include an ID which matches the server name",
        "AH00558: apache2: Could not reliably determine the server's fully qualified domain name, using 127.0.1.1. Set the 'ServerName' directive globally to suppress this message",
    ]),
    ("service_stop", [
        "[{ts_apache_error:ts}] [mpm_event:notice] [pid {pid:pid}:tid 140{digits_12}] AH00491: caught SIGTERM, shutting down",
    ]),
    ("service_crash", [
        "[{ts_apache_error:ts}] [core:notice] [pid {pid:pid}] AH00052: child pid {pid} exit signal Segmentation fault (11)",
        "[{ts_apache_error:ts}] [core:notice] [pid {pid:pid}] AH00051: child pid {pid} exit signal Aborted (6), possible coredump in /etc/apache2",
    ]),
    ("config_change", [
        "[{ts_apache_error:ts}] [mpm_event:notice] [pid {pid:pid}:tid 140{digits_12}] AH00493: SIGUSR1 received.  Doing graceful restart",
    ]),
])

_MS_RULE = ('[file "/usr/share/modsecurity-crs/rules/{crs_file}"] [line "{count}"] [id "{crs_id}"] '
            '[msg "{crs_msg}"] [data "Matched Data: {crs_data} found within ARGS:{word}"] [severity "CRITICAL"] '
            '[ver "OWASP_CRS/{version}"] [tag "application-multi"] [tag "attack-{|sqli|xss|rce|lfi}"]')
MODSECURITY = make_family("modsecurity", "web", ("apache2", "nginx", "httpd"), "file", [
    ("web_attack_attempt", [
        _AP24 + "[client {ip:sip}] ModSecurity: Access denied with code {@403:status} (phase 2). Matched \"Operator `Ge' with parameter `5' against variable `TX:ANOMALY_SCORE' (Value: `{small}' )\" " + _MS_RULE + ' [hostname "{vhost}"] [uri "{attack_path:url}"] [unique_id "{session_id}"]',
        _AP24 + "ModSecurity: Warning. Pattern match \"(?i:(?:union\\\\s*?(?:all|distinct|select)))\" at ARGS:id. " + _MS_RULE + ' [hostname "{vhost}"] [uri "{url_path:url}"] [unique_id "{session_id}"]',
        _NG + "[client {ip:sip}] ModSecurity: Access denied with code {@403:status} (phase 2). " + _MS_RULE + ' [hostname "{ip}"] [uri "{attack_path:url}"] [unique_id "{digits_12}"] [ref "o0,5v21,5"], client: {ip:sip}, server: {vhost}, request: "{method:method} {attack_url:url} HTTP/1.1", host: "{vhost}"',
        "ModSecurity: Access denied with code {@403:status} (phase 1). Matched phrase \"{attacker_agent}\" at REQUEST_HEADERS:User-Agent. " + _MS_RULE + ' [hostname "{vhost}"] [uri "{url_path:url}"] [unique_id "{session_id}"]',
        "[{ts_apache_error:ts}] [:error] [pid {pid:pid}] [client {ip:sip}] ModSecurity: Warning. detected SQLi using libinjection with fingerprint 's&sos' " + _MS_RULE + ' [uri "{attack_path:url}"] [unique_id "{session_id}"]',
    ]),
])

HAPROXY = make_family("haproxy", "web", ("haproxy",), "syslog", [
    ("web_request", (3.0, [
        '{ip:sip}:{port:sport} [{ts_haproxy:ts}] {frontend} {backend}/{word}{small} {small}/{small}/{duration_ms}/{duration_ms}/{duration_ms} {status:status} {size} - - ---- {count}/{count}/{small}/{small}/0 0/0 "{method:method} {url_path:url} HTTP/1.1"',
        '{ip:sip}:{port:sport} [{ts_haproxy:ts}] {frontend}~ {backend}/{word}{small} {duration_ms}/{small}/{small}/{duration_ms}/{duration_ms} {status:status} {size} - - --NI {count}/{count}/{small}/{small}/0 0/0 {{{vhost}}} "{method:method} {url_path:url} HTTP/2.0"',
    ])),
    ("web_attack_attempt", (1.5, [
        '{ip:sip}:{port:sport} [{ts_haproxy:ts}] {frontend} {backend}/{word}{small} {small}/{small}/{duration_ms}/{duration_ms}/{duration_ms} {status:status} {size} - - ---- {count}/{count}/{small}/{small}/0 0/0 "{method:method} {attack_url:url} HTTP/1.1"',
        '{ip:sip}:{port:sport} [{ts_haproxy:ts}] {frontend} {frontend}/<NOSRV> -1/-1/-1/-1/{small} {@400:status} {size} - - PR-- {count}/{count}/0/0/0 0/0 "<BADREQ>"',
    ])),
    ("connection_rejected", [
        "{ip:sip}:{port:sport} [{ts_haproxy:ts}] {frontend}/{small}: SSL handshake failure",
        '{ip:sip}:{port:sport} [{ts_haproxy:ts}] {frontend} {frontend}/<NOSRV> -1/-1/-1/-1/{small} {@403:status} {size} - - PR-- {count}/{count}/0/0/0 0/0 "{method:method} {url_path:url} HTTP/1.1"',
        '{ip:sip}:{port:sport} [{ts_haproxy:ts}] {frontend} {frontend}/<NOSRV> -1/-1/-1/-1/{small} {@429:status} {size} - - PR-- {count}/{count}/0/0/0 0/0 "{method:method} {url_path:url} HTTP/1.1"',
    ]),
    ("other", [
        "Server {backend}/{word}{small} is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: {duration_ms}ms. {small} active and 0 backup servers left. {small} sessions active, 0 requeued, 0 remaining in queue.",
        "Server {backend}/{word}{small} is UP, reason: Layer7 check passed, code: 200, check duration: {duration_ms}ms. {small} active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
        "backend {backend} has no server available!",
    ]),
    ("service_start", ["Proxy {frontend} started.", "Proxy {backend} started."]),
    ("service_stop", ["Proxy {frontend} stopped (cumulated conns: FE: {count}, BE: {count}).", "Stopping frontend {frontend} in 0 ms."]),
])

SQUID = make_family("squid", "web", ("squid",), "file", [
    ("web_request", (3.0, [
        "{ts_squid:ts} {|     |    |   | }{duration_ms:var} {ip:sip} TCP_{|MISS|HIT|MEM_HIT|REFRESH_MODIFIED|TUNNEL}/{status:status} {size} {method:method} {full_url:url} - HIER_DIRECT/{ip} {|text/html|application/json|image/png|-}",
        "{ts_squid:ts} {|     |    |   | }{duration_ms:var} {ip:sip} TCP_TUNNEL/{@200:status} {size} CONNECT {vhost:url}:443 - HIER_DIRECT/{ip} -",
        "{ts_squid:ts} {|     |    |   | }{duration_ms:var} {ip:sip} TCP_MISS/{status:status} {size} {method:method} {full_url:url} {plain_user:user} HIER_DIRECT/{ip} text/html",
    ])),
    ("connection_rejected", (2.0, [
        "{ts_squid:ts} {|     |    |   | }{duration_ms:var} {ip:sip} TCP_DENIED/{@403:status} {size} {method:method} {full_url:url} - HIER_NONE/- text/html",
        "{ts_squid:ts} {|     |    |   | }{duration_ms:var} {ip:sip} TCP_DENIED/{@407:status} {size} {method:method} {full_url:url} - HIER_NONE/- text/html",
        "{ts_squid:ts} {|     |    |   | }{duration_ms:var} {ip:sip} TCP_DENIED/{@403:status} {size} CONNECT {vhost:url}:{service_port} - HIER_NONE/- text/html",
        "{ts_squid:ts} {|     |    |   | }{duration_ms:var} {ip:sip} NONE_NONE/{@400:status} {size} NONE error:invalid-request - HIER_NONE/- text/html",
        "{ts_squid:ts} {|     |    |   | }{duration_ms:var} {ip:sip} NONE/{@405:status} {size} CONNECT error:method-not-allowed - HIER_NONE/- text/html",
    ])),
    ("web_auth_failed", [
        "{ts_squid:ts} {|     |    |   | }{duration_ms:var} {ip:sip} TCP_DENIED/{@407:status} {size} {method:method} {full_url:url} {plain_user:user} HIER_NONE/- text/html",
    ]),
    ("other", [
        "{ts_slash:ts} kid1| Starting Squid Cache version 5.{small} for x86_64-pc-linux-gnu...",
        "{ts_slash:ts} kid1| WARNING: Forwarding loop detected for:",
        "{ts_slash:ts} kid1| helperOpenServers: Starting {small}/{count} 'basic_ncsa_auth' processes",
    ]),
])

ROUNDCUBE = make_family("roundcube", "web", ("roundcube",), "file", [
    ("login_failed", (2.0, [
        "[{ts_roundcube:ts}]: <{session_short}> IMAP Error: Login failed for {mail_user:user} against {|localhost|127.0.0.1|imap.example.com} from {ip:sip}. AUTHENTICATE PLAIN: Authentication failed. in /var/www/roundcube/program/lib/Roundcube/rcube_imap.php on line {count} (POST /?_task=login&_action=login)",
        "[{ts_roundcube:ts}]: IMAP Error: Login failed for {mail_user:user} from {ip:sip}. Could not connect to ssl://localhost:993: Unknown reason in /usr/share/roundcube/program/lib/Roundcube/rcube_imap.php on line {count} (POST /roundcube/?_task=login&_action=login)",
        "[{ts_roundcube:ts}]: <{session_short}> Failed login for {mail_user:user} from {ip:sip} in session {session_short} (error: {small})",
        "roundcube: IMAP Error: Login failed for {mail_user:user} from {ip:sip}(X-Real-IP: {ip}). AUTHENTICATE LOGIN: Authentication failed. in /usr/share/roundcube/program/lib/Roundcube/rcube_imap.php on line {count} (POST /?_task=login&_action=login)",
    ])),
    ("login_success", [
        "[{ts_roundcube:ts}]: <{session_short}> Successful login for {mail_user:user} (ID: {count}) from {ip:sip} in session {session_short}",
    ]),
    ("other", [
        "[{ts_roundcube:ts}]: <{session_short}> PHP Error: Failed to load plugin file /var/www/roundcube/plugins/{word}/{word}.php in /var/www/roundcube/program/lib/Roundcube/rcube_plugin_api.php on line {count} (GET /?_task=mail)",
    ]),
])

GRAFANA = make_family("grafana", "web", ("grafana", "grafana-server"), "file", [
    ("login_failed", (2.0, [
        'logger=context userId=0 orgId=0 uname= t={ts_iso:ts} level=warn msg="Invalid username or password" error="invalid username or password" remote_addr={ip:sip} traceID=',
        't={ts_iso:ts} lvl=eror msg="Invalid username or password" logger=context userId=0 orgId=0 uname= error="invalid username or password" remote_addr={ip:sip}',
        'logger=authn.service t={ts_iso:ts} level=warn msg="Failed to authenticate request" client=auth.client.form error="[password-auth.failed] failed to authenticate identity: [identity.not-found] no user found" username={plain_user:user} remote_addr={ip:sip}',
        'logger=context userId=0 orgId=0 uname= t={ts_iso:ts} level=info msg="Request Completed" method=POST path=/login status={@401:status} remote_addr={ip:sip} time_ms={duration_ms} duration={duration_ms}ms size={size} referer= handler=/login',
    ])),
    ("login_success", [
        'logger=http.server t={ts_iso:ts} level=info msg="Successful Login" User={email:user}',
        'logger=authn.service t={ts_iso:ts} level=info msg="Login succeeded" username={plain_user:user} remote_addr={ip:sip}',
    ]),
    ("web_request", [
        'logger=context userId={small} orgId=1 uname={plain_user:user} t={ts_iso:ts} level=info msg="Request Completed" method={method:method} path={url_path:url} status={status:status} remote_addr={ip:sip} time_ms={duration_ms} duration={duration_ms}ms size={size} referer= handler=/api/dashboards/uid/:uid',
    ]),
    ("other", [
        'logger=cleanup t={ts_iso:ts} level=info msg="Completed cleanup jobs" duration={duration_ms}ms',
        'logger=plugins.update.checker t={ts_iso:ts} level=info msg="Update check succeeded" duration={duration_ms}ms',
        'logger=infra.usagestats t={ts_iso:ts} level=info msg="Usage stats are ready to report"',
    ]),
])

GITLAB = make_family("gitlab", "web", ("gitlab", "puma", "gitlab-rails"), "json", [
    ("login_failed", (2.0, [
        '{{"severity":"INFO","time":"{ts_mysql:ts}","correlation_id":"{alnum_26}","message":"Failed Login: username={plain_user:user} ip={ip:sip}"}}',
        'Failed Login: username={plain_user:user} ip={ip:sip}',
        '{{"method":"POST","path":"/users/sign_in","format":"html","controller":"SessionsController","action":"create","status":{@401:status},"time":"{ts_mysql:ts}","params":[{{"key":"user","value":{{"login":"{plain_user:user}","password":"[FILTERED]"}}}}],"remote_ip":"{ip:sip}","ua":"{user_agent:ua}","duration_s":{duration_s}}}',
    ])),
    ("login_success", [
        '{{"severity":"INFO","time":"{ts_mysql:ts}","correlation_id":"{alnum_26}","message":"Successful Login: username={plain_user:user} ip={ip:sip} method=standard admin=false"}}',
        'Successful Login: username={plain_user:user} ip={ip:sip} method={|standard|two-factor|ldapmain} admin={|false|true}',
    ]),
    ("web_request", [
        '{{"method":"{method:method}","path":"{url_path:url}","format":"json","controller":"Projects::{word}Controller","action":"show","status":{status:status},"time":"{ts_mysql:ts}","remote_ip":"{ip:sip}","user_id":{count},"username":"{plain_user:user}","ua":"{user_agent:ua}","duration_s":{duration_s}}}',
    ]),
    ("other", [
        '{{"severity":"INFO","time":"{ts_mysql:ts}","class":"{word}Worker","jid":"{hex_id}","message":"{word}Worker JID-{hex_id}: done: {duration_s} sec","job_status":"done","duration_s":{duration_s}}}',
    ]),
], escape_json=True)

# Nextcloud's nextcloud.log: one JSON object a line (admin manual, "Logging"). The account a
# failed login names is only in the message; "user" is the session's user ("--" before login).
# The client is both remoteAddr and the message's address: one value.
_NC = ('{{"reqId":"{alnum_26}","level":{|2|2|1},"time":"{ts_iso:ts}","remoteAddr":"{ip#r:sip}","user":"--",'
       '"app":"{|core|no app in context}","method":"{|POST|GET}","url":"{|/login|/index.php/login|/remote.php/dav/files/}",')
_NC_END = ',"userAgent":"{user_agent:ua}","version":"{|27|28|29}.0.{small}.{small}"}}'
NEXTCLOUD = make_family("nextcloud", "web", ("nextcloud", "php-fpm"), "json", [
    ("login_failed", (2.0, [
        _NC + '"message":"Login failed: {plain_user:user} (Remote IP: {ip#r:sip})"' + _NC_END,
        _NC + '"message":"Login failed: \'{plain_user:user}\' (Remote IP: \'{ip#r:sip}\')"' + _NC_END,
        'Login failed: {plain_user:user} (Remote IP: {ip#r:sip})',
    ])),
    ("rate_limited", [
        _NC + '"message":"Bruteforce attempt from \\"{ip#r:sip}\\" detected for action \\"{|login|lostPassword|webdav}\\"."' + _NC_END,
    ]),
    ("connection_rejected", [
        _NC + '"message":"Trusted domain error. \\"{ip#r:sip}\\" tried to access using \\"{vhost}\\" as host."' + _NC_END,
    ]),
    ("login_success", [
        _NC.replace('"user":"--"', '"user":"{plain_user:user}"') + '"message":"Login successful: {plain_user:user}"' + _NC_END,
    ]),
    ("other", [
        _NC + '"message":"Could not detect any host in https:///"' + _NC_END,
        _NC + '"message":"Background job {word}Job ran in {small} seconds"' + _NC_END,
    ]),
], escape_json=True)

WORDPRESS = make_family("wordpress", "web", ("wordpress", "php-fpm", "wp"), "syslog", [
    ("login_failed", (2.0, [
        "Authentication failure for {plain_user:user} from {ip:sip}",
        "Authentication attempt for unknown user {plain_user:user} from {ip:sip}",
        "Blocked authentication attempt for {plain_user:user} from {ip:sip}",
        "XML-RPC authentication failure for {plain_user:user} from {ip:sip}",
        "Pingback error 48 generated from {ip:sip}",
    ])),
    ("login_success", ["Accepted password for {plain_user:user} from {ip:sip}"]),
    ("web_attack_attempt", [
        "Blocked user enumeration attempt from {ip:sip}",
        "Spam comment {count} from {ip:sip}",
    ]),
])

CADDY = make_family("caddy", "web", ("caddy",), "json", [
    ("web_request", (3.0, [
        '{{"level":"info","ts":{ts_epoch:ts},"logger":"http.log.access.log0","msg":"handled request","request":{{"remote_ip":"{ip:sip}","remote_port":"{port:sport}","client_ip":"{ip#c:sip}","proto":"HTTP/2.0","method":"{method:method}","host":"{vhost}","uri":"{url_path:url}","headers":{{"User-Agent":["{user_agent:ua}"]}}}},"bytes_read":0,"user_id":"","duration":{duration_s},"size":{size},"status":{status:status}}}',
    ])),
    ("web_attack_attempt", (2.0, [
        '{{"level":"info","ts":{ts_epoch:ts},"logger":"http.log.access.log0","msg":"handled request","request":{{"remote_ip":"{ip:sip}","remote_port":"{port:sport}","proto":"HTTP/1.1","method":"{method:method}","host":"{vhost}","uri":"{attack_url:url}","headers":{{"User-Agent":["{attacker_agent:ua}"]}}}},"duration":{duration_s},"size":{size},"status":{status:status}}}',
    ])),
    ("web_auth_failed", [
        '{{"level":"error","ts":{ts_epoch:ts},"logger":"http.handlers.authentication","msg":"auth failed","request":{{"remote_ip":"{ip:sip}","remote_port":"{port:sport}","method":"{method:method}","host":"{vhost}","uri":"{url_path:url}"}},"username":"{plain_user:user}","error":"{|invalid credentials|user not found}"}}',
    ]),
    ("other", ['{{"level":"info","ts":{ts_epoch:ts},"logger":"tls.obtain","msg":"certificate obtained successfully","identifier":"{vhost}"}}',
               '{{"level":"info","ts":{ts_epoch:ts},"msg":"serving initial configuration"}}']),
], escape_json=True)

_TRAEFIK = '{ip:sip} - {|-|{plain_user:user}} [{ts_clf:ts}] "{method:method} {URL} HTTP/{|1.1|2.0}" {status:status} {size} "{referer}" "{UA}" {count} "{word}@{|docker|file|kubernetescrd}" "http://{ipv4}:{port}" {duration_ms}ms'
TRAEFIK = make_family("traefik", "web", ("traefik",), "file", [
    ("web_request", (3.0, [_TRAEFIK.replace("{URL}", "{url_path:url}").replace("{UA}", "{user_agent:ua}")])),
    ("web_attack_attempt", (2.0, [_TRAEFIK.replace("{URL}", "{attack_url:url}").replace("{UA}", "{user_agent:ua}"),
                                  _TRAEFIK.replace("{URL}", "{url_path:url}").replace("{UA}", "{attacker_agent:ua}")])),
    ("other", ['time="{ts_iso:ts}" level=info msg="Configuration loaded from flags."',
               'time="{ts_iso:ts}" level=error msg="Error while Peeking first byte: read tcp {ipv4}:443->{ip}:{port}: i/o timeout"']),
])

_IIS = "{ts_exim:ts} {ip:dip} {method:method} {IISPATH} {IISQUERY} {@80|443:dport} {|-|{plain_user:user}} {ip:sip} {iis_agent:ua} {|-|{full_url}} {status:status} 0 0 {duration_ms}"
IIS = make_family("iis", "web", ("iis", "w3svc"), "file", [
    ("web_request", (3.0, [_IIS.replace("{IISPATH}", "{iis_path:url}").replace("{IISQUERY}", "{|-|{iis_query}}")])),
    ("web_attack_attempt", (2.0, [_IIS.replace("{IISPATH}", "{iis_attack_path:url}").replace("{IISQUERY}", "-"),
                                  _IIS.replace("{IISPATH}", "{iis_path:url}").replace("{IISQUERY}", "{iis_attack_query}")])),
    ("other", ["#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
               "#Software: Microsoft Internet Information Services 10.0", "#Date: {ts_exim:ts}"]),
])

FAMILIES: tuple[Family, ...] = (
    NGINX_ACCESS, APACHE_ACCESS, NGINX_ERROR, APACHE_ERROR, MODSECURITY, HAPROXY, SQUID,
    ROUNDCUBE, GRAFANA, GITLAB, NEXTCLOUD, WORDPRESS, CADDY, TRAEFIK, IIS,
)
