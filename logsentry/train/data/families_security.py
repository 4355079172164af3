# ruff: noqa: E501  (templates are log lines; wrapping them would hide their shape)
"""Security families: what any software writes when it is probed, attacked or refuses.

Each family combines a record *shape* (combined access log, JSON, key=value, CSV, pipe-
or tab-separated columns, prose) with *content* drawn from the compositional
vocabularies of `attack_vocab`, so the line's action follows from what the line says
(a probed path, `../` in some encoding, SQL in a parameter, a scanner's User-Agent, an
IDS signature, "dropped", "listed in", "denied") and not from the shape it is written in:

- the same access-log shapes carry ordinary requests (`web_request`) and probes or
  attacks (`web_attack_attempt`);
- IDS/IPS alerts (`intrusion_detected`), firewall drops (`firewall_drop`), blocklist,
  reputation and geo-block rejections (`connection_rejected`) in several record shapes;
- logins refused in many wordings, negated success words included (`login_failed`),
  beside the same shapes saying that a login succeeded (`login_success`);
- addresses standing alone among positional fields, and lines with several addresses
  (client and server, relay or proxy, X-Forwarded-For chains, NAT translations) where the
  client is `source.ip`, the server `destination.ip`, and a relay `variable`.

Program names are generic or invented, the wording is common English of security
messages, and no template copies a line of any dataset.
"""

from __future__ import annotations

from logsentry.train.data.template import Family, make_family

# ---- web requests: one set of shapes, ordinary or hostile content -----------------

_HTTPV = "HTTP/{|1.1|1.1|1.0|2.0}"
_ACCESS_SHAPES = (
    '{ip:sip} - {|-|-|{plain_user:user}} [{ts_clf:ts}] "{method:method} {URL} ' + _HTTPV + '" {status:status} {size} "{referer}" "{UA}"',
    '{ip:sip} - - [{ts_clf:ts}] "{method:method} {URL} ' + _HTTPV + '" {status:status} {size} "{referer}" "{UA}" {|{duration_s}|rt={duration_s}|{duration_ms}ms|"{vhost}"}',
    '{vhost}{|:80|:443|} {ip:sip} - - [{ts_clf:ts}] "{method:method} {URL} ' + _HTTPV + '" {status:status} {size} "{referer}" "{UA}"',
    '{ip:sip} {vhost} - [{ts_clf:ts}] "{method:method} {URL} ' + _HTTPV + '" {status:status} {size} {duration_ms} "{UA}"',
    '[{ts_clf:ts}] {ip:sip} "{method:method} {URL} ' + _HTTPV + '" {status:status} {size} "{UA}"',
    '{ts_iso:ts} {|client|remote|src|ip|remote_addr|clientip}={ip:sip} {|method|verb}={method:method} {|path|uri|url|request}={URL} {|status|code|response}={status:status} {|bytes|size|len}={size} {|ua|agent|user_agent}="{UA}"{| {|duration|rt|took}={duration_ms}ms|}',
    'time={ts_iso:ts} level=info msg="{|request|access|handled request|http request}" {|remote|client_ip|peer}={ip:sip}:{port:sport} {|method|verb}={method:method} {|path|uri}="{URL}" {|status|code}={status:status} {|dur|duration|latency}={duration_ms}ms {|ua|user_agent}="{UA}"',
    '{ts_iso:ts},{ip:sip},{method:method},{URL},{status:status},{size},"{UA}"',
    '{ts_mysql:ts}|{ip:sip}|{method:method}|{URL}|{status:status}|{size}|{duration_ms}|{UA}',
    '{ts_iso:ts}\t{ip:sip}\t{method:method}\t{URL}\t{status:status}\t{size}\t{UA}',
    '{ts_iso:ts} {ip:sip} {method:method} {URL} {status:status} {size} {duration_ms}ms',
    '{ts_exim:ts} {ip:dip} {method:method} {URL} {@80|443:dport} - {ip:sip} {UA} {status:status} 0 0 {duration_ms}',
    '{|INFO|info|[INFO]} {ip:sip} - "{method:method} {URL} ' + _HTTPV + '" {status:status}',
    '{ip:sip} "{method:method} {URL}" {status:status} {size} {duration_ms}ms "{UA}"',
    '{vhost} {ip:sip} {method:method} {URL} -> {status:status} ({duration_ms} ms)',
)
_JSON_ACCESS_SHAPES = (
    '{{"time":"{ts_iso:ts}","{|remote_addr|client_ip|clientip|ip|src_ip|remoteIP}":"{ip:sip}","{|method|request_method|verb}":"{method:method}","{|uri|path|url|request_uri}":"{URL}","{|status|status_code|response}":{status:status},"{|bytes|body_bytes_sent|size}":{size},"{|ua|user_agent|http_user_agent}":"{UA}"}}',
    '{{"ts":{ts_epoch:ts},"level":"info","msg":"{|request completed|access|served}","client":"{ip:sip}","request":{{"method":"{method:method}","uri":"{URL}","headers":{{"User-Agent":["{UA}"]}}}},"status":{status:status},"duration":{duration_s}}}',
    '{{"@timestamp":"{ts_iso:ts}","source":{{"ip":"{ip:sip}"}},"http":{{"request":{{"method":"{method:method}"}},"response":{{"status_code":{status:status}}}}},"url":{{"original":"{URL}"}},"user_agent":{{"original":"{UA}"}}}}',
    '{{"host":"{vhost}","remote":"{ip:sip}","req":"{method:method} {URL} HTTP/1.1","code":"{status:status}","agent":"{UA}","rt":{duration_s}}}',
)


def _web(shapes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    ordinary = [s.replace("{URL}", "{ordinary_url:url}").replace("{UA}", "{browser_agent:ua}") for s in shapes]
    ordinary += [s.replace("{URL}", "{url_path:url}").replace("{UA}", "{browser_agent:ua}") for s in shapes]
    hostile = [s.replace("{URL}", "{probe_url:url}").replace("{UA}", "{browser_agent:ua}") for s in shapes]
    hostile += [s.replace("{URL}", "{probe_url:url}").replace("{UA}", "{offensive_agent:ua}") for s in shapes]
    hostile += [s.replace("{URL}", "{ordinary_url:url}").replace("{UA}", "{offensive_agent:ua}") for s in shapes]
    return ordinary, hostile


_WEB_ORDINARY, _WEB_HOSTILE = _web(_ACCESS_SHAPES)
WEB_REQUESTS = make_family("web_requests", "security", ("httpd", "webserver", "proxy", "frontend", "app"), "file", [
    ("web_request", (3.0, _WEB_ORDINARY)),
    ("web_attack_attempt", (3.0, _WEB_HOSTILE)),
])

_JSON_ORDINARY, _JSON_HOSTILE = _web(_JSON_ACCESS_SHAPES)
WEB_REQUESTS_JSON = make_family("web_requests_json", "security", ("httpd", "gateway", "ingress"), "json", [
    ("web_request", (3.0, _JSON_ORDINARY)),
    ("web_attack_attempt", (3.0, _JSON_HOSTILE)),
], escape_json=True)

# A web application firewall or application saying in words that it stopped a request.
_WAF_SAY = "{|Blocked|Denied|Rejected|Detected|Possible|Suspicious|Malicious} {|SQL injection|XSS|path traversal|command injection|LFI|RFI|scanner|template injection|attack|exploit attempt|bad bot|directory traversal} {|attempt|request|payload|pattern|detected|}"
WAF_GENERIC = make_family("waf_generic", "security", ("waf", "appfw", "shield", "guard", "app", "api"), "syslog", [
    ("web_attack_attempt", (3.0, [
        "{|[WARN] |WARNING |security: |}" + _WAF_SAY + " from {ip:sip}{|:{port:sport}|}: {method:method} {probe_url:url}",
        "{|[WARN] |WARNING |security: |}" + _WAF_SAY + " {|client|src|ip}={ip:sip} {|uri|url|path}={probe_url:url}{| rule={count}| id={count}|}",
        "{|action|verdict}={|block|blocked|deny|detect} {|attack|category}={|sqli|xss|lfi|rce|scanner|protocol-violation} {|client|src}={ip:sip} {|uri|url}={probe_url:url}",
        "{ip:sip} {|requested|probed|tried} {probe_url:url}{| ({|scanner|exploit|probe} signature)|}",
        "Request from {ip:sip} with {|suspicious|malicious|known scanner} User-Agent \"{offensive_agent:ua}\" {|blocked|rejected|flagged|logged}",
    ])),
    ("web_request", [
        "{|[INFO] |info: |}{|Request|Served|Handled} {method:method} {ordinary_url:url} {|for|from} {ip:sip} {|status|->} {status:status}",
        "{|client|src|ip}={ip:sip} {|uri|url|path}={ordinary_url:url} {|status|code}={status:status} {|action|verdict}={|pass|allow|allowed}",
    ]),
])

# ---- IDS/IPS signature alerts -------------------------------------------------------

_SIG = "{ids_signature}"
_FLOW = "{|{ip:sip}:{port:sport} -> {ip:dip}:{service_port:dport}|{ip:sip}:{port:sport} --> {ip:dip}:{service_port:dport}|{ip:sip} -> {ip:dip}|from {ip:sip}:{port:sport} to {ip:dip}:{service_port:dport}|src={ip:sip} sport={port:sport} dst={ip:dip} dport={service_port:dport}|{ip:sip}:{port:sport} > {ip:dip}:{service_port:dport}}"
IDS_ALERTS = make_family("ids_alerts", "security", ("snort", "suricata", "ids", "ips", "nids", "sensor", "idsd"), "syslog", [
    ("intrusion_detected", (4.0, [
        "[**] [{small}:{sid}:{small}] " + _SIG + " [**] [Classification: {ids_class}] [Priority: {@1|2|3|4:var}] {{{ids_proto}}} " + _FLOW,
        "[{small}:{sid}:{small}] " + _SIG + " [Classification: {ids_class}] [Priority: {@1|2|3:var}] {ids_proto} " + _FLOW,
        "{|ALERT|Alert|alert|[ALERT]|IDS ALERT|IPS:|[Drop]|[wDrop]|DROP|Blocked}: " + _SIG + " {|(sid {sid})|[sid:{sid}]|sid={sid}|} " + _FLOW,
        "{|IDS|IPS|Intrusion} {|alert|event|detection}: " + _SIG + " {|priority|severity} {@1|2|3|high|medium|low|critical:var} {|proto|protocol} {ids_proto} " + _FLOW,
        "signature_id={sid} signature=\"" + _SIG + "\" {|category|classification}=\"{ids_class}\" {|severity|priority}={@1|2|3:var} proto={ids_proto} src_ip={ip:sip} src_port={port:sport} dest_ip={ip:dip} dest_port={service_port:dport}",
        "{ts_iso:ts},{sid},\"" + _SIG + "\",\"{ids_class}\",{@1|2|3:var},{ids_proto},{ip:sip},{port:sport},{ip:dip},{service_port:dport}",
        "{ts_suricata:ts}  [**] [1:{sid}:{small}] " + _SIG + " [**] [Classification: {ids_class}] [Priority: {@1|2|3:var}] {{{ids_proto}}} {ip:sip}:{port:sport} -> {ip:dip}:{service_port:dport}",
        "{|Possible|Detected|Suspected} {|port scan|SYN flood|brute force|exploit|host sweep|SQL injection|shellcode} from {ip:sip}{| targeting {ip:dip}| against {ip:dip}:{service_port:dport}|}{| ({count} {|packets|attempts|ports} in {small}s)|}",
        "{|threat|attack} {|detected|blocked|prevented}: {|name|threat}=\"" + _SIG + "\" {|attacker|src|source}={ip:sip} {|victim|dst|target}={ip:dip} {|action|verdict}={|alert|drop|reset|block}",
    ])),
    ("other", [
        "{|Rule set|Signatures|rules} {|reloaded|updated|loaded}: {count} {|rules|signatures} {|active|enabled}{|, {small} disabled|}",
        "{|Engine|Sensor} {|started|ready} on {iface} ({|af-packet|pcap|nfq} mode, {small} threads)",
        "stats: {count} packets, {count} alerts, {small} dropped by kernel",
    ]),
])
IDS_JSON = make_family("ids_json", "security", ("suricata", "zeek", "ids"), "json", [
    ("intrusion_detected", (3.0, [
        '{{"timestamp":"{ts_iso:ts}","event_type":"alert","src_ip":"{ip:sip}","src_port":{port:sport},"dest_ip":"{ip:dip}","dest_port":{service_port:dport},"proto":"{ids_proto}","alert":{{"action":"{|allowed|blocked}","signature_id":{sid},"signature":"' + _SIG + '","category":"{ids_class}","severity":{@1|2|3:var}}}}}',
        '{{"time":"{ts_iso:ts}","type":"{|ids_alert|intrusion|threat}","rule":{{"id":{sid},"name":"' + _SIG + '"}},"{|attacker|source_ip|src}":"{ip:sip}","{|target|destination_ip|dst}":"{ip:dip}","{|port|dest_port}":{service_port:dport},"severity":"{|high|medium|low|critical}"}}',
    ])),
    ("other", [
        '{{"timestamp":"{ts_iso:ts}","event_type":"flow","src_ip":"{ip:sip}","src_port":{port:sport},"dest_ip":"{ip:dip}","dest_port":{service_port:dport},"proto":"{ids_proto}","flow":{{"pkts_toserver":{small},"bytes_toserver":{size}}}}}',
        '{{"timestamp":"{ts_iso:ts}","event_type":"stats","stats":{{"uptime":{count},"capture":{{"kernel_packets":{count},"kernel_drops":{small}}}}}}}',
    ]),
], escape_json=True)

# ---- firewall drops -------------------------------------------------------------------

_PROTO = "{|TCP|UDP|ICMP|tcp|udp|icmp|6|17}"
FIREWALL_GENERIC = make_family("firewall_generic", "security", ("firewall", "fw", "pf", "filterlog", "nftables", "kernel", "router", "gateway"), "syslog", [
    ("firewall_drop", (4.0, [
        "{|action|act|verdict}={fw_action} {|src|srcip|src_ip|saddr}={ip:sip} {|dst|dstip|dst_ip|daddr}={ip:dip} {|proto|protocol}=" + _PROTO + " {|sport|srcport|spt}={port:sport} {|dport|dstport|dpt}={service_port:dport}{| {|rule|policy|policyid}={rule_name}|}{| {|iface|in|interface}={iface}|}",
        "{|Dropped|Denied|Blocked|Rejected|Discarded|Filtered} {|TCP|UDP|ICMP|inbound|incoming|} {|packet|connection|traffic|SYN} from {ip:sip}{|:{port:sport}| port {port:sport}|} to {ip:dip}{|:{service_port:dport}| port {service_port:dport}|}{| on {iface}| by rule {rule_name}| (policy {rule_name})|}",
        "{ts_iso:ts},{|fw|edge|wan}{small},{fw_action},{|tcp|udp|TCP|UDP},{ip:sip},{port:sport},{ip:dip},{service_port:dport},{iface},{rule_name}",
        "{fw_action} {ids_proto} {ip:sip}:{port:sport} -> {ip:dip}:{service_port:dport}{| {iface}| rule {rule_name}|}",
        "[{|FW-DROP|FW DENY|BLOCK|DROP|REJECT|INPUT-DENY|WAN-BLOCK|firewall:drop}] IN={iface} OUT= SRC={ip:sip} DST={ip:dip} LEN={small} PROTO={|TCP|UDP} SPT={port:sport} DPT={service_port:dport}",
        "{|packet|connection} {|from|src} {ip:sip} {|to|dst} {ip:dip}:{service_port:dport} {|was dropped|was denied|was blocked|was rejected|matched deny rule {rule_name}|hit default deny}",
        "{|Deny|Drop|Reject} {|tcp|udp|icmp} src {iface}:{ip:sip}/{port:sport} dst {iface}:{ip:dip}/{service_port:dport} by access-group \"{rule_name}\"",
        "{rule_name}: {fw_action} {|in|out} on {iface}: {ip:sip}.{port:sport} > {ip:dip}.{service_port:dport}: {|tcp|udp} {small}",
        "{ts_mysql:ts}|{fw_action}|{ip:sip}|{port:sport}|{ip:dip}|{service_port:dport}|" + _PROTO,
    ])),
    ("connection_opened", [
        "{|action|verdict}={|ACCEPT|allow|permit|pass|accept} {|src|srcip}={ip:sip} {|dst|dstip}={ip:dip} {|proto|protocol}=" + _PROTO + " {|sport|spt}={port:sport} {|dport|dpt}={service_port:dport}",
        "{|Allowed|Accepted|Permitted|Passed} {|TCP|UDP|} {|connection|packet|traffic} from {ip:sip}:{port:sport} to {ip:dip}:{service_port:dport}",
        "{ts_iso:ts},{|fw|edge}{small},{|ALLOW|PERMIT|ACCEPT|allow},{|tcp|udp},{ip:sip},{port:sport},{ip:dip},{service_port:dport},{iface},{rule_name}",
    ]),
])

# ---- blocklist, reputation and geo-block rejections ------------------------------

_REJ = "{|Rejected|Refused|Blocked|Denied|Dropped|Rejecting|Refusing|Blocking|Denying}"
BLOCKLIST = make_family("blocklist", "security", ("smtpd", "postscreen", "proxy", "edge", "waf", "geoipd", "ipset", "guard", "mta", "frontend", "app"), "syslog", [
    ("connection_rejected", (4.0, [
        _REJ + " {|connection|client|request|host|access} {|from|for} {ip:sip}{|:{port:sport}|}{|:| -|,} {|listed in|found on|listed on|present in|matched} {blocklist}",
        "{|client|host|peer|IP} {ip:sip} {|is|was} {|listed in|on the|in the|found in} {blocklist}{| blocklist| blacklist| deny list|}{|, connection refused|, rejected|; dropping|}",
        "{|DNSBL|RBL|Blacklist|Blocklist|Reputation|Threat intel} {|hit|match|check failed|block} for {ip:sip}{| ({blocklist})| via {blocklist}|}{|, rejecting|: denied|}",
        "{ip:sip} {|blocked|rejected|refused|denied}: {|reputation score|risk score|threat score} {count} {|above|exceeds} threshold {small}",
        "{|GeoIP|Geo|Country} {|block|blocked|filter|denied}: {ip:sip} ({country}){| not in allowed countries| is blocked|}",
        "{|access|connection} {|denied|refused|rejected} for {ip:sip} {|from blocked country|country} {country}",
        "{|banned|blacklisted|blocklisted|denylisted|known bad} {|IP|host|address|client} {ip:sip} {|tried to connect|attempted access|rejected|refused}{| to {ip:dip}:{service_port:dport}|}",
        "{|decision|verdict}={|ban|block|deny|reject} {|ip|src|source}={ip:sip} {|reason|origin|scope}={|blocklist|reputation|geoip|{blocklist}}",
        "NOQUEUE: reject: RCPT from {hostname:saddr}[{ip:sip}]: 554 5.7.1 Service unavailable; Client host [{ip:sip}] blocked using {blocklist}",
        "{|client|src}={ip:sip} {|blocked|denied} by {|ipset|blocklist|denylist} {|{blocklist}|blacklist|threat-feed}",
    ])),
    ("other", [
        "{|Loaded|Updated|Refreshed} {blocklist} ({count} {|entries|networks|addresses})",
        "{|Blocklist|Reputation list|GeoIP database} {|updated|reloaded} in {duration_ms}ms",
        "{ip:sip} {|not listed|clean|passed reputation check} ({blocklist})",
    ]),
])

# ---- logins refused, in many words ------------------------------------------------

_WHO = "{|for user {user:user}|for {user:user}|for '{user:user}'|for \"{user:user}\"|user={user:user}|username={user:user}|user '{user:user}'|of user {user:user}|account {user:user}|[{user:user}]|(user: {user:user})|login={user:user}|by {user:user}}"
_FROM = "{|from {ip:sip}|from {ip:sip}:{port:sport}|ip={ip:sip}|client={ip:sip}|src={ip:sip}|remote={ip:sip}|({ip:sip})|[{ip:sip}]|address {ip:sip}|rhost={ip:sip}|client {ip:sip}|from host {ip:sip}|via {ip:sip}|source: {ip:sip}|- {ip:sip}}"
_SUBJ = "{|Login|Log-in|Logon|Sign-in|Sign in|Authentication|Auth|Access|Login attempt|Authentication request|Auth request|User login|Admin login|Console login|Web login|API login|Portal login|Session request}"
_REFUSED = "{|denied|refused|rejected|not permitted|not allowed|blocked|invalid|failed|unsuccessful|declined|forbidden|disallowed|aborted|not successful|did not succeed|was denied|was refused|was rejected|has been blocked|could not be completed}"
_WHY = "{|bad password|wrong password|incorrect password|invalid password|bad credentials|wrong credentials|incorrect credentials|invalid credentials|unknown user|no such user|user not found|account locked|account disabled|account expired|password expired|account suspended|too many failures|invalid token|OTP mismatch|wrong PIN|invalid API key|expired certificate|credentials rejected|not authorized|insufficient privileges|user is blocked|locked out|unauthorized}"
_LEVEL = "{|[WARN] |WARN |WARNING: |[error] |ERROR |E |warn: |<4> |security: |audit: |{ts_iso:ts} {|WARN|ERROR|NOTICE} |[{ts_comma:ts}] |}"
_GRANTED = "{|succeeded|successful|accepted|granted|OK|completed|allowed|permitted|established|approved}"
AUTH_REFUSALS = make_family("auth_refusals", "security", (
    "authd", "login", "portal", "console", "api", "vpn", "webui", "nas", "router", "idp", "ftpd", "mgmt",
    "controller", "radiusd", "ldap-proxy", "db", "cms", "appserver",
), "syslog", [
    ("login_failed", (5.0, [
        _LEVEL + _SUBJ + " " + _REFUSED + " " + _WHO + " " + _FROM + "{|: " + _WHY + "| (" + _WHY + ")| - " + _WHY + "|}",
        _LEVEL + _SUBJ + " " + _REFUSED + " " + _FROM + " " + _WHO + "{|: " + _WHY + "|}",
        _LEVEL + _SUBJ + " " + _REFUSED + ": " + _WHY + " " + _WHO + "{| " + _FROM + "|}",
        _LEVEL + "{|User|Account|Client|Principal} {user:user} {|could not be authenticated|could not log in|was not authenticated|is not allowed to log in|failed to authenticate|was denied access|was refused|was locked out|is locked|has an expired password|is disabled} " + _FROM + "{|: " + _WHY + "|}",
        _LEVEL + "{|Unable to|Could not|Cannot|Failed to} {|authenticate|log in|verify credentials for|validate password for|sign in} {user:user} " + _FROM + "{|: " + _WHY + "|}",
        _LEVEL + _WHY + " " + _WHO + " " + _FROM,
        _LEVEL + _FROM + " " + _SUBJ + " " + _REFUSED + " " + _WHO,
        _LEVEL + "{|login|auth|authentication|logon} {|not|NOT|never} {|successful|granted|accepted|authorized|completed|allowed} " + _WHO + " " + _FROM,
        _LEVEL + "{|event|type|action}={|login|auth|logon|signin} {|result|status|outcome}={|denied|refused|rejected|blocked|invalid|failure|FAILED|DENY|unsuccessful} " + _WHO.replace("{|for user ", "{|user=").replace("|for {", "|user={") + " " + _FROM + "{| reason=\"" + _WHY + "\"|}",
        _LEVEL + "{|Access|Permission|Entry} {|denied|refused} to {user:user} " + _FROM + "{|: " + _WHY + "|}",
        "{ts_iso:ts},{user:user},{ip:sip},{|FAILED|DENIED|REJECTED|failure|BLOCKED|INVALID},{|bad password|locked|expired|unknown user|invalid credentials}",
        "{ts_mysql:ts}|{ip:sip}|{user:user}|{|login|auth}|{|fail|failed|denied|rejected|refused}",
        "{ts_iso:ts} {ip:sip} {user:user} {|LOGIN_FAILED|AUTH_FAIL|DENIED|REJECT|login-failed|bad-password}",
    ])),
    ("login_success", (2.5, [
        _LEVEL + _SUBJ + " " + _GRANTED + " " + _WHO + " " + _FROM,
        _LEVEL + _SUBJ + " " + _GRANTED + " " + _FROM + " " + _WHO,
        _LEVEL + "{|User|Account|Client} {user:user} {|authenticated|logged in|signed in|was authenticated|authenticated successfully} " + _FROM,
        _LEVEL + "{|event|type|action}={|login|auth|logon|signin} {|result|status|outcome}={|success|ok|granted|accepted|SUCCESS|allow} " + _WHO.replace("{|for user ", "{|user=").replace("|for {", "|user={") + " " + _FROM,
        "{ts_iso:ts},{user:user},{ip:sip},{|SUCCESS|OK|ACCEPTED|success|GRANTED},{|password|publickey|sso|otp}",
        "{ts_mysql:ts}|{ip:sip}|{user:user}|{|login|auth}|{|ok|success|accepted|granted}",
        "{ts_iso:ts} {ip:sip} {user:user} {|LOGIN_OK|AUTH_SUCCESS|ACCEPTED|login-ok}",
    ])),
    ("other", [
        _LEVEL + "{|Password policy|Login page|Auth backend|Session store} {|loaded|updated|reloaded}{| for realm {word}|}",
        _LEVEL + "{user:user} {|changed preferences|viewed dashboard|downloaded report|updated profile} " + _FROM,
    ]),
])

# ---- addresses: alone among fields, or several in one line --------------------------

# The client first, then the server, in words and arrows; or the server first when a
# context word says so. A relay or proxy address is `variable`: it is neither end.
_RELAY = "{|via {ip:var}|through proxy {ip:var}|proxy={ip:var}|relay={ip:var}|lb={ip:var}|by {|proxy|relay|gateway|balancer} {ip:var}|(forwarded by {ip:var})}"
ADDRESS_ROLES = make_family("address_roles", "security", ("netd", "proxyd", "edge", "lb", "relay", "gateway", "natd", "vpn", "app", "sshd-proxy"), "syslog", [
    ("connection_opened", (2.0, [
        "{|Connection|New connection|Accepted connection|Session} from {ip:sip}:{port:sport} to {ip:dip}:{service_port:dport}{| " + _RELAY + "|}",
        "{|conn|connect|accepted} {|client|src|remote}={ip:sip}:{port:sport} {|server|dst|local}={ip:dip}:{service_port:dport}",
        "{|server|local|listener|laddr}={ip:dip}:{service_port:dport} {|client|remote|peer|raddr}={ip:sip}:{port:sport} {|connected|accepted|established}",
        "{|local|server} {ip:dip} port {service_port:dport} {|accepted|got} connection from {|remote|client} {ip:sip} port {port:sport}",
        "{ip:dip}:{service_port:dport} <- {ip:sip}:{port:sport} {|accepted|connected|open}",
        "{|NAT|SNAT|DNAT|translation}: {ip:sip}:{port:sport} {|->|translated to|mapped to} {ip:var}:{port} {|->|for|dst} {ip:dip}:{service_port:dport}",
        "client {ip#c:sip} (X-Forwarded-For: {ip#c:sip}{|, {ip:var}|}) {|via|from proxy} {ip:var} -> {ip:dip}:{service_port:dport}",
        # A client named only in a forwarding header is no source (any client writes that
        # header): the connecting peer is, as the engine and the card say.
        "{|request|connection} {|X-Forwarded-For|X-Real-IP|forwarded-for|xff}={ip:var} {|remote_addr|peer|client_addr}={ip:sip} {|host|server|backend}={ip:dip}:{service_port:dport}",
    ])),
    ("login_failed", (2.0, [
        "{|Authentication failed|Login failed|Auth failure|Access denied} for {user:user} from {ip:sip} {|on|to|at} {|server|host|} {ip:dip}{| port {service_port:dport}|:{service_port:dport}|}",
        "{|server|local}={ip:dip} {|client|remote|src}={ip:sip} user={user:user} {|result|status}={|failure|denied|rejected}",
        "{|Login|Auth} {|failure|failed|refused} {user:user}@{ip:sip} {|->|to|on} {ip:dip}{| " + _RELAY + "|}",
        "{ip:dip}: {|failed|rejected|refused} {|login|authentication} {|for|of} {user:user} from {ip:sip}{| " + _RELAY + "|}",
        "{|Login|Authentication} {|failed|refused|denied} for {user:user}: client {ip:sip} {|via|through|behind} {|proxy|relay|load balancer} {ip:var}",
        "XFF=\"{ip:var}, {ip:var}\" peer={ip:sip} user={user:user} {|auth|login}={|failed|denied|rejected}",
    ])),
    ("connection_rejected", [
        "{|Refused|Rejected|Denied} connection from {ip:sip}:{port:sport} to {ip:dip}:{service_port:dport}{| " + _RELAY + "|}{|: not allowed|: policy|}",
        "{|server|local}={ip:dip} {|refused|rejected|denied} {|client|peer}={ip:sip}",
    ]),
])

# Records whose columns say what they are by position alone: the client's address
# stands among other fields with no word before it.
POSITIONAL_RECORDS = make_family("positional_records", "security", ("app", "auditlog", "accesslog", "gateway"), "file", [
    ("login_failed", (2.0, [
        "{ts_iso:ts} {ip:sip} {user:user} {|FAIL|FAILED|failed|DENIED|denied|REJECTED|INVALID|BAD_PASSWORD|LOCKED}",
        "{ts_iso:ts},{ip:sip},{user:user},{|login|auth|LOGIN|AUTH},{|failure|FAILED|denied|0|false}",
        "{ts_mysql:ts}|{user:user}|{ip:sip}|{|login_failed|auth_failure|FAIL|denied}",
        "{ts_iso:ts}\t{user:user}\t{ip:sip}\t{|FAIL|failure|DENY|bad password}",
        "{|AUTH|LOGIN} {|FAIL|FAILED|DENIED} {user:user} {ip:sip}{| {port:sport}|}",
        "{ts_epoch:ts} {ip:sip} {port:sport} {user:user} {|auth-fail|login-fail|pw-mismatch}",
        "\"{ts_iso:ts}\",\"{ip:sip}\",\"{user:user}\",\"{|Failed|Denied|Rejected|Invalid}\"",
    ])),
    ("login_success", [
        "{ts_iso:ts} {ip:sip} {user:user} {|OK|SUCCESS|success|ACCEPTED|GRANTED}",
        "{ts_iso:ts},{ip:sip},{user:user},{|login|auth|LOGIN},{|success|OK|1|true}",
        "{ts_mysql:ts}|{user:user}|{ip:sip}|{|login_ok|auth_success|OK|accepted}",
        "{ts_iso:ts}\t{user:user}\t{ip:sip}\t{|OK|success|ACCEPT}",
    ]),
    ("web_request", (2.0, [
        "{ts_iso:ts} {ip:sip} {method:method} {ordinary_url:url} {status:status} {size}",
        "{ts_iso:ts},{ip:sip},{method:method},{ordinary_url:url},{status:status},{duration_ms}",
        "{ip:sip}|{ts_mysql:ts}|{method:method}|{ordinary_url:url}|{status:status}",
        "{ts_iso:ts}\t{ip:sip}\t{ip:dip}\t{method:method}\t{ordinary_url:url}\t{status:status}",
        "{ts_epoch:ts} {duration_ms} {ip:sip} {status:status} {size} {method:method} {ordinary_url:url}",
    ])),
    ("web_attack_attempt", [
        "{ts_iso:ts} {ip:sip} {method:method} {probe_url:url} {status:status} {size}",
        "{ts_iso:ts},{ip:sip},{method:method},{probe_url:url},{status:status},{duration_ms}",
        "{ip:sip}|{ts_mysql:ts}|{method:method}|{probe_url:url}|{status:status}",
    ]),
    ("firewall_drop", [
        "{ts_iso:ts} {fw_action} {ids_proto} {ip:sip} {port:sport} {ip:dip} {service_port:dport}",
        "{ts_iso:ts},{fw_action},{ip:sip},{port:sport},{ip:dip},{service_port:dport},{|tcp|udp}",
    ]),
    ("connection_opened", [
        "{ts_iso:ts} {|ACCEPT|allow|CONNECT|open} {ids_proto} {ip:sip} {port:sport} {ip:dip} {service_port:dport}",
    ]),
])

FAMILIES: tuple[Family, ...] = (
    WEB_REQUESTS, WEB_REQUESTS_JSON, WAF_GENERIC, IDS_ALERTS, IDS_JSON, FIREWALL_GENERIC, BLOCKLIST,
    AUTH_REFUSALS, ADDRESS_ROLES, POSITIONAL_RECORDS,
)
