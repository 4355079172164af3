# ruff: noqa: E501  (templates are log lines; wrapping them would hide their shape)
"""Neutral chatter of authentication daemons, network services, web servers and package
managers.

Most lines a server writes are not offenses: a connection is accepted or closed, keys
are exchanged, a protocol version and a cipher are chosen, an authentication method is
tried and the next one is asked for, a channel opens, a resource is not found, a
request is redirected, a cache misses, a client goes away, an idle peer times out. Said
at info or debug level, often with the same peer, user and `[preauth]`-style stage
marks as a failure, such lines teach the model that the *verb* of a line makes it an
offense, not its vocabulary. A model that never saw them reads them as failures and
floods users of normal logs with false alarms.

Every line is combined at random from parts (level prefix, subject, verb, peer,
detail, stage mark), written from general knowledge of what such software logs at
info and debug level; program names are generic or invented. Failures stay where they
are (families_auth, families_generic, families_security): nothing here fails, refuses
or blocks.
"""

from __future__ import annotations

from logsentry.train.data.template import Family, make_family

# Level and debug prefixes of informational lines (a debug line is never an offense).
_INFO = "{|||||debug1: |debug2: |debug3: |debug: |DEBUG: |[DEBUG] |[debug] |DEBUG |[INFO] |INFO |info: |[info] |I: |<I> |<D> |notice: |[notice] |NOTICE |verbose: |VERBOSE |trace: |TRACE |{ts_iso:ts} {|INFO|DEBUG|TRACE} |[{ts_iso:ts}] {|[info]|[debug]|} |{ts_comma:ts} {|INFO|DEBUG} [{thread}] |{|INFO|DEBUG} [{java_class}] }"
# How a peer is written: with or without port, bracketed, as key=value, as a name.
_PEER = "{|{source:src}|{ip:sip}|{ip:sip} port {port:sport}|{ip:sip}:{port:sport}|[{ip:sip}]:{port:sport}|{hostname:saddr} [{ip:sip}]|{hostname:saddr} ({ip:sip})|host {source:src}|client {ip:sip}|peer {ip:sip}:{port:sport}|remote {ip:sip}|client={ip:sip}|rhost={source:src}|ip={ip:sip}|addr={ip:sip}:{port:sport}|src={ip:sip} sport={port:sport}|remote_addr={ip:sip}}"
_LOCAL = "{||||| on {ip:dip} port {service_port:dport}| to {ip:dip}:{service_port:dport}| on port {service_port:dport}| (local {ip:dip}:{service_port:dport})| via {iface}| lport={service_port:dport}}"
# Stage marks: the phase a message belongs to says nothing of its outcome.
_STAGE = "{||||| [preauth]| [preauth]| [net]| [auth]| [handshake]| [session]| (pre-auth)| (stage {small})| [conn {small}]| [{session_short}]| id {small}| fd {small}}"
# Closing a connection before authentication is how scanners leave (labelled a failure in
# families_auth, as fail2ban's aggressive mode counts it): closes here carry no such mark.
_CLOSE_STAGE = "{||||| [net]| [session]| (stage {small})| [conn {small}]| [{session_short}]| id {small}| fd {small}}"
_METHOD = "{|publickey|password|keyboard-interactive|gssapi-with-mic|hostbased|none|PLAIN|LOGIN|CRAM-MD5|SCRAM-SHA-256|GSSAPI|EXTERNAL|NTLM|token|otp|certificate}"
_WHO = "{|user {user:user}|for {user:user}|for user {user:user}|user={user:user}|login {user:user}|account {user:user}|username={user:user}|{user:user}}"
_PROTO_NAME = "{|SSH-2.0|SSH|TLS|IMAP|POP3|SMTP|ESMTP|LMTP|FTP|FTPS|SFTP|LDAP|RDP|VNC|SIP|XMPP|MQTT|AMQP|HTTP/1.1|HTTP/2|RADIUS|Kerberos|SMB3|NFSv4|PostgreSQL|MySQL|Redis|WireGuard|IKEv2|OpenVPN}"
_SOFTWARE = "{|OpenSSH_{small}.{small}|libssh2_1.{small}.{small}|PuTTY_Release_0.{small}{small}|Go|paramiko_{small}.{small}.{small}|JSCH-0.1.{small}{small}|WinSCP_release_{small}.{small}|dropbear_20{small}{small}|curl/{version}|okhttp/{version}|python-requests/{version}|Thunderbird {small}{small}.{small}|Outlook {small}{small}.0|openssl {version}|rustls {version}}"

PROTOCOL_STEPS = make_family("protocol_steps", "auth", (
    "sshd", "sshd-session", "dropbear", "ftpd", "sftp-server", "imapd", "pop3d", "smtpd",
    "submission", "lmtpd", "ldapd", "slapd-proxy", "kdc", "radiusd", "vpnd", "ocserv-worker",
    "xrdp", "rdpd", "vncserver", "telnetd", "sipd", "xmppd", "mqttd", "pgbouncer", "dbproxy",
    "authd", "gateway", "tunneld", "sessiond", "bastion",
), "syslog", [
    ("connection_opened", (2.5, [
        _INFO + "{|Connection|New connection|Incoming connection|Client connection|Connect|connect|Accepted connection|accepted connection|Client connected|connection established|Connection established|new client|New session|Accepted} {|from|by|with|} " + _PEER + _LOCAL + _STAGE,
        _INFO + "{|Connection|connection} {|from|with} " + _PEER + " {|accepted|opened|established|started|received}" + _LOCAL + _STAGE,
        _INFO + "{|connect|CONNECT|conn_open|event=connect|action=open} " + _PEER + "{| proto={proto}| protocol=" + _PROTO_NAME + "|}" + _STAGE,
        _INFO + "{|Starting|Spawned|Forked} {|handler|worker|child|session} {|{pid}|#{small}} for " + _PEER + _STAGE,
    ])),
    ("connection_closed", (2.5, [
        _INFO + "{|Connection closed|Connection finished|Client disconnected|client disconnected|Disconnected|disconnected|Closing connection|closing connection|Connection terminated|Session closed|session closed|Peer closed the connection|Remote side closed the connection|EOF from client|Client quit|QUIT received|Closed connection} {|by|from|to|with|for|} " + _PEER + "{|| after {duration_s}s| (idle {duration_s}s)| in={size} out={size}| bytes={size}| duration={duration_ms}ms| (normal shutdown)| (client quit)| reason=normal}" + _CLOSE_STAGE,
        _INFO + "{|Idle timeout|idle timeout|Inactivity timeout|Keepalive timeout|Session timed out after inactivity|Client idle too long} {|for|from|on} " + _PEER + "{|, closing|, closing connection|, disconnecting| ({duration_s}s)}" + _CLOSE_STAGE,
        _INFO + "{|Received disconnect|Disconnect received|Got disconnect} from " + _PEER + "{|: {small}: disconnected by user|: normal shutdown|: Bye|: logout|: client closed}" + _CLOSE_STAGE,
        _INFO + "{|Transferred|Session totals|Connection stats}: {|sent|tx|out} {size}{| bytes}, {|received|rx|in} {size}{| bytes}{| for " + _PEER + "|}",
    ])),
    ("other", (5.0, [
        # Key exchange and algorithm negotiation.
        _INFO + "{|kex|KEX|key exchange|Key exchange|kex_choose_conf|negotiation|Negotiated}{|:| -} {|algorithm|method|kex algorithm|host key algorithm|cipher|mac|compression|proposal} {|chosen|selected|negotiated|agreed|set}{|:| to|} {|{cipher}|{kex_alg}|curve25519-sha256|ecdh-sha2-nistp256|diffie-hellman-group14-sha256|ssh-ed25519|rsa-sha2-512|aes256-gcm@openssh.com|chacha20-poly1305@openssh.com|hmac-sha2-256|umac-128-etm@openssh.com|none|zlib@openssh.com}{| with " + _PEER + "|}" + _STAGE,
        _INFO + "{|SSH2_MSG_KEXINIT|KEXINIT|SSH2_MSG_NEWKEYS|NEWKEYS|SSH2_MSG_KEX_ECDH_INIT|SSH2_MSG_SERVICE_REQUEST|SSH2_MSG_USERAUTH_REQUEST|SSH2_MSG_CHANNEL_OPEN|SSH2_MSG_IGNORE} {|sent|received|expected|done}{|| from " + _PEER + "}" + _STAGE,
        _INFO + "{|{@kex|key-exchange|handshake:var}|{@Kex|Version|Auth|Channel|Cipher:var}} {|completed|done|finished|started|in progress|ok}{| for " + _PEER + "|}{|: {cipher}| {tls_version}/{cipher}| enc={cipher}|}" + _STAGE,
        _INFO + "{|{proto}|" + _PROTO_NAME + "}{|: |;}{|Server|Client|server|client}{|;|: | }{|type|phase|step|Ltype}{|: |=}{|Version|Kex|Authname|Auth|Channel|Rekey|Keepalive}{|;| }{|Remote|peer|remote}{|: |=}{ipv4:sip}{|-|:}{port:sport}{|;| }{|Enc: {cipher};MAC: {|hmac-sha1|hmac-sha2-256|umac-64@openssh.com};Comp: {|none|zlib}|Protocol: 2.0;Client: " + _SOFTWARE + "|Name: {user:user}|}" + _STAGE,
        # TLS and protocol negotiation.
        _INFO + "{|TLS|SSL|tls|STARTTLS|TLS handshake|SSL handshake|Secure connection} {|established|completed|negotiated|resumed|started|ok} {|with|from|for|to} " + _PEER + "{|: |, |; | using }{tls_version}{| {cipher}| with cipher {cipher}| ({cipher})|}{| ({small}{small}{small}/{small}{small}{small} bits)|}" + _STAGE,
        _INFO + "{|Remote|Client|Peer|remote|client} {|protocol version|software version|version string|identification|banner|ident} {|is|:|=} " + _PROTO_NAME + "{|-" + _SOFTWARE + "| " + _SOFTWARE + "|}{|, remote software version " + _SOFTWARE + "|}{| from " + _PEER + "|}" + _STAGE,
        _INFO + "{|Local version string|Server banner|Sending banner|Advertising|Offering} {|" + _PROTO_NAME + "-" + _SOFTWARE + "|capabilities {|STARTTLS AUTH PIPELINING|IMAP4rev1 IDLE|SASL PLAIN LOGIN}|" + _PROTO_NAME + "}{| to " + _PEER + "|}" + _STAGE,
        _INFO + "{|Enabling|Using|Selected} {|compatibility mode|protocol|protocol version|dialect|extension|ALPN protocol} {|for protocol 2.0|" + _PROTO_NAME + "|h2|http/1.1|SMB3_11|LDAPv3}{| with " + _PEER + "|}" + _STAGE,
        # Authentication steps that are neither a success nor a failure.
        _INFO + "{|Postponed|Deferred|Continuing|Trying|Next|Partial success:|Attempting|Offering|Skipping|Checking|Starting} {|method|auth method|authentication method|} " + _METHOD + " " + _WHO + "{|| from " + _PEER + "}{|| ssh2| (continue)}" + _STAGE,
        _INFO + "{|userauth-request|auth request|authentication request|userauth_request|auth step|SASL step} {|for|by} " + _WHO + "{| service {|ssh-connection|imap|smtp|ldap}|} {|method|mech} " + _METHOD + _STAGE,
        _INFO + "{|Authentication methods|Available methods|Methods that can continue|Supported mechanisms|Offered mechanisms|Auth methods allowed}{|:| are|=} {|publickey,password|publickey,keyboard-interactive|PLAIN LOGIN|SCRAM-SHA-256 PLAIN|password|publickey}{| for " + _WHO + "|}" + _STAGE,
        _INFO + "{|Checking|Looking up|Trying|Found|Matching} {|key|public key|host key|certificate|ticket|credentials cache|authorized_keys entry} {|{key_type} {fingerprint}|{fingerprint}|for {user:user}|in {@/root/.ssh/authorized_keys|/etc/ssh/authorized_keys|/home/git/.ssh/authorized_keys|/home/deploy/.ssh/authorized_keys2|/etc/ssh/ssh_host_ed25519_key|/etc/ssl/certs/ca-certificates.crt|/var/lib/sss/pubconf/known_hosts|/etc/krb5.keytab:path}}{| for " + _WHO + "|}" + _STAGE,
        # Channels and sessions.
        _INFO + "{|channel|Channel|session|Session|stream|Stream|multiplex} {small}: {|new|open|opened|confirm|confirmed|close|closed|free|EOF|rcvd eof|request|window adjust|input drain|output open} {|[session]|[direct-tcpip]|[forwarded-tcpip]|subsystem sftp|pty-req|shell|exec|env|keepalive@openssh.com|window {size}|}{| for " + _WHO + "|}" + _STAGE,
        _INFO + "{|server_input_channel_req|session_input_channel_req|channel_input_open|client_input_global_request}: channel {small} {|request|rtype} {|pty-req|shell|exec|env|window-change|keepalive@openssh.com} {|reply|want reply} {small}",
        _INFO + "{|Keepalive|keepalive|Heartbeat|Ping|PING|NOOP} {|sent to|received from|from|to|ok for} " + _PEER + "{| ({duration_ms}ms)|}" + _STAGE,
        _INFO + "{|Rekeying|rekey|Re-keying} {|after {size} bytes|after {duration_s}s|requested by peer|completed}{| for " + _PEER + "|}" + _STAGE,
        # Name resolution and debug chatter.
        _INFO + "{|Resolved|Reverse lookup of|Looking up|resolving} " + _PEER + "{| as {hostname:saddr}| to {hostname:saddr}|: {hostname:saddr}}",
        _INFO + "{|Forked child|Spawned child|Worker|Process|Child} {pid}{| for " + _PEER + "|| started| ready}" + _STAGE,
        _INFO + "{|Got|Read|Wrote|Sent|Received|Queued} {size} bytes{| from " + _PEER + "| to " + _PEER + "|}{| on channel {small}|}" + _STAGE,
        _INFO + "{|Setting|Set} {|TCP_NODELAY|SO_KEEPALIVE|IPTOS_LOWDELAY|IPTOS_THROUGHPUT|receive window|send buffer}{| to {size}|}{| for fd {small}| on socket {small}|}",
        _INFO + "{|permanently_set_uid|temporarily_use_uid|restore_uid|set_uid}: {uid}/{uid}{| ({user:user})|}",
    ])),
])

# Web servers: error and info lines around ordinary requests.
_WEB_LEVEL = "{|[{ts_apache_error:ts}] [{|core|http|proxy|ssl|rewrite|cache|mpm_event}:{|info|debug|notice|trace1|warn}] [pid {pid:pid}] |{ts_slash:ts} [{|info|notice|debug|warn}] {pid}#{small}: *{count} |[{ts_iso:ts}] {|INFO|DEBUG|info|debug} |{ts_iso:ts} {|INFO|DEBUG} {|http|server|router|handler} |{|INFO|DEBUG|info} {|[http]|[web]|[router]|[static]|} |}"
_CLIENT = "{|[client {ip:sip}:{port:sport}] |[client {ip:sip}] |client {ip:sip}: |client={ip:sip} |remote={ip:sip} |}"
_CTX = "{||, client: {ip:sip}, server: {vhost}, request: \"{|GET|HEAD|POST} {ordinary_url:url} HTTP/1.1\", host: \"{vhost}\"|, referer: {referer}|, client: {ip:sip}|, host: \"{vhost}\"| (request {session_short})| for {ip:sip}}"
_GOOD_PATH = "{|{benign_path:url}|{ordinary_url:url}|{url_path:url}|/favicon.ico|/apple-touch-icon.png|/robots.txt|/sitemap.xml|/static/{word}.js|/assets/{word}.css|/images/{word}.png|/api/v1/{word}/{count}}"

WEB_CHATTER = make_family("web_chatter", "web", (
    "httpd", "webserver", "nginx", "apache2", "lighttpd", "caddy", "traefik", "envoy", "gunicorn",
    "uwsgi", "puma", "node", "webapp", "api-gateway", "ingress", "static-server", "proxy",
), "file", [
    ("other", (4.0, [
        # Resources that are not there: a missing favicon is no attack and no login.
        _WEB_LEVEL + _CLIENT + "{|File does not exist|file not found|No such file or directory|Resource not found|Not found|not found|No route matches|No route for|Unknown route|Page not found|No handler for|static file missing}{|: | } {|{benign_file:path}|" + _GOOD_PATH + "}" + _CTX,
        _WEB_LEVEL + _CLIENT + "open() \"{benign_file:path}\" failed (2: No such file or directory)" + _CTX,
        _WEB_LEVEL + _CLIENT + "{|{@GET|HEAD|POST:method}|} " + _GOOD_PATH + " {|-> |returned |answered |}{@404|410:status}{| Not Found| Gone|} {|in {duration_ms}ms|({duration_ms} ms)|}",
        # Redirects, caches, upstreams, clients that go away, timeouts that refuse nothing.
        _WEB_LEVEL + _CLIENT + "{|Redirecting|redirect|Redirected|rewrite} " + _GOOD_PATH + " {|->|to} {|https://{vhost}|/login?next={word}|{ordinary_url:url}|/{word}/}{| ({@301|302|307|308:status})|}" + _CTX,
        _WEB_LEVEL + "{|cache|Cache|proxy cache|page cache} {|miss|MISS|hit|HIT|stale|expired|revalidated|stored|bypass} {|for|:} " + _GOOD_PATH + "{| (key {hex_id})| ttl={small}s|}",
        _WEB_LEVEL + _CLIENT + "{|client closed connection while waiting for request|client prematurely closed connection|client closed connection|client went away|connection reset by client|broken pipe while sending response|client timed out while reading request body|keepalive timeout, closing connection|SSL handshake timed out|request body read timed out}{|, client: {ip:sip}|}{|, server: {vhost}|}" + _CTX,
        _WEB_LEVEL + "{|upstream timed out (110: Connection timed out) while reading response header from upstream|upstream prematurely closed connection|no live upstreams|upstream responded slowly|connect() to upstream failed (111: Connection refused) while connecting to upstream|backend {word} is slow}" + _CTX,
        _WEB_LEVEL + _CLIENT + "{|TLS|SSL} {|handshake completed|session resumed|protocol negotiated|ALPN selected {|h2|http/1.1}}{| {tls_version} {cipher}|}" + _CTX,
        _WEB_LEVEL + "{|Accepted|accepted|New|new} {|connection|keep-alive connection|HTTP/2 stream|websocket} {|from|for} {ip:sip}:{port:sport}{| (fd {small})|}",
        _WEB_LEVEL + "{|Serving|Listening on|Reloaded|Loaded config from|Worker {pid} started|Using {small} workers|Compiled route table:} {|0.0.0.0:{service_port:dport}|{path:path}|{small} routes|}",
    ])),
    ("web_request", (3.0, [
        # Request records of applications, benign paths, every ordinary status.
        "{|{ts_iso:ts} |}{|INFO |info: |[{|INFO|http}] |}{ip:sip} {@GET|HEAD|POST|PUT|OPTIONS:method} " + _GOOD_PATH + " {@200|204|301|302|304|307|400|404|405|410|412|416|499|500|502|503|504:status} {|{size}|-} {duration_ms}ms{| \"{browser_agent:ua}\"|}",
        "{|{ts_iso:ts} |}{|method|verb}={@GET|HEAD|POST|PUT|OPTIONS:method} {|path|uri|url}=" + _GOOD_PATH + " {|status|code}={@200|204|301|302|304|404|410|499|503:status} {|client|remote_ip|ip}={ip:sip}{| duration={duration_ms}ms| bytes={size}|}",
    ])),
])

# Package managers' own logs (dpkg.log, apt's history, yum/dnf, pacman, apk, zypper,
# rpm, snap, pip): installs, upgrades, removals and their state steps. A package may be
# named like a program the other families write about (sudo, openssh-server, nmap,
# clamav): installing it is no attack, no malware and no privilege change.
_PKG = "{package}{|:{package_arch}|.{package_arch}|}"
_PKG_TS = "{|{ts_iso:ts} |[{ts_iso:ts}] |{ts_comma:ts} |{ts_syslog:ts} |}"
PACKAGES = make_family("package_manager", "system", (
    "dpkg", "apt", "apt-get", "yum", "dnf", "pacman", "apk", "zypper", "rpm", "snapd",
    "pip", "unattended-upgrade", "packagekitd",
), "file", [
    ("other", (4.0, [
        _PKG_TS + "{|status|state} {|installed|half-installed|half-configured|unpacked|config-files|not-installed|triggers-pending|triggers-awaited} " + _PKG + " {package_version}",
        _PKG_TS + "{|install|upgrade|remove|purge|configure|trigproc} " + _PKG + " {|{package_version} {package_version}|<none> {package_version}|{package_version} <none>|{package_version}}",
        _PKG_TS + "{|startup|} {|archives|packages} {|unpack|configure|remove|install}",
        _PKG_TS + "{|conffile|Conffile} {path:path} {|install|keep|replace|new}",
        _PKG_TS + "{|Installed|Updated|Upgraded|Erased|Removed|Reinstalled|Downgraded|Obsoleted}: {|{package}-{package_version}.{package_arch}|{package} {package_version}|" + _PKG + "}",
        _PKG_TS + "{|[ALPM] |[PACMAN] |}{|installed|upgraded|removed|reinstalled|downgraded} {package} ({package_version}{| -> {package_version}|})",
        _PKG_TS + "{|(|}{small}/{small}{|)|} {|Installing|Upgrading|Removing|Purging|Unpacking|Setting up|Preparing to unpack|Processing triggers for|Selecting previously unselected package} {|" + _PKG + "|" + _PKG + " ({package_version})|{package} ({package_version}) over ({package_version})|{package}-{package_version}}{| ...|}",
        _PKG_TS + "{|Start-Date|End-Date}: {ts_iso:ts}",
        "{|Commandline|Requested-By}: {|apt-get|apt|/usr/bin/apt|dnf|yum} {|install|upgrade|remove|-y install|full-upgrade|autoremove|update} {package}{| {package}|}{| ({plain_user:user} ({uid}))|}",
        "{|Install|Upgrade|Remove|Purge}: " + _PKG + " ({package_version}{|, {package_version}|, automatic|}){|, " + _PKG + " ({package_version})|}",
        _PKG_TS + "{|Packages to be|Package list:|Transaction:|The following NEW packages will be|The following packages will be} {|installed|upgraded|removed|REMOVED|held back}{|:|} {package}{| {package}| {package} {package}|}",
        _PKG_TS + "{|Successfully installed|Collecting|Requirement already satisfied:|Downloading|Fetched} {package}{|-{package_version}|=={package_version}| {size} B|}",
        _PKG_TS + "{|Running transaction check|Transaction test succeeded|Running transaction|Verifying|Cleanup|Complete!|Dependencies resolved.|Nothing to do.|Reading package lists...|Building dependency tree...|Reading state information...|Running hooks...|synchronizing package lists|starting full system upgrade|transaction started|transaction completed}{| {package}| {small}/{small}|}",
        _PKG_TS + "{|Packages that will be upgraded|Allowed origins are|Initial blacklist|Packages with upgradable origin but kept back|Writing dpkg log to}: {|{package}| {package} {package}|{path:path}|}",
        _PKG_TS + "{|Refreshing|Refreshed|Installed|Removed|Reverted} snap \"{package}\"{| ({small})| to revision {count}|}",
    ])),
])

FAMILIES: tuple[Family, ...] = (PROTOCOL_STEPS, WEB_CHATTER, PACKAGES)
