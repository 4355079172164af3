# ruff: noqa: E501  (templates are log lines; wrapping them would hide their shape)
"""Network families: iptables/nftables/UFW/firewalld kernel logs, OpenVPN, WireGuard,
DHCP, NTP, BIND, Suricata, Snort, fail2ban's own log, sshguard.
"""

from __future__ import annotations

from logsentry.train.data.template import Family, make_family

_KTS = "[{||||   | }{uptime}] "
_PKT = ("IN={iface} OUT= MAC={mac}:{mac}:08:00 SRC={ip:sip} DST={ip:dip} LEN={count} TOS=0x00 PREC=0x00 "
        "TTL={count} ID={count} {|DF |}PROTO={|TCP|TCP|UDP} SPT={port:sport} DPT={service_port:dport} ")
_PKT_TCP_TAIL = "WINDOW={count} RES=0x00 {|SYN|ACK|SYN|RST} URGP=0"
_PKT_UDP_TAIL = "LEN={count}"
_PKT_ICMP = ("IN={iface} OUT= MAC={mac}:{mac}:08:00 SRC={ip:sip} DST={ip:dip} LEN={count} TOS=0x00 PREC=0x00 "
             "TTL={count} ID={count} PROTO=ICMP TYPE=8 CODE=0 ID={count} SEQ={count}")

IPTABLES = make_family("iptables", "network", ("kernel",), "syslog", [
    ("firewall_drop", (3.0, [
        _KTS + "{|IPTABLES-DROP|iptables denied|DROP|INPUT-DROP|Dropped by firewall|[IPTABLES DROP]|iptables-dropped|BLOCKED|REJECT}: " + _PKT + _PKT_TCP_TAIL,
        _KTS + "{|IPTABLES-DROP|DROP|FW-DROP|denied} " + _PKT + _PKT_UDP_TAIL,
        "{|IPTABLES-DROP|iptables denied|DROP|PORTSCAN}: " + _PKT + _PKT_TCP_TAIL,
        "{|FINAL_REJECT|filter_IN_public_REJECT|STATE_INVALID_DROP}: " + _PKT + _PKT_TCP_TAIL,
        _KTS + "{|IPTABLES-DROP|DROP}: " + _PKT_ICMP,
        "{|nft drop|nft-drop: |DROP-INPUT |input drop }" + _PKT + _PKT_TCP_TAIL,
        _KTS + "{|nftables-dropped|nft:input:drop} " + _PKT + _PKT_UDP_TAIL,
    ])),
    ("connection_opened", [
        _KTS + "{|IPTABLES-ACCEPT|ACCEPT|NEW_CONN}: " + _PKT + _PKT_TCP_TAIL,
        "{|nft accept |ssh-accept: }" + _PKT + _PKT_TCP_TAIL,
    ]),
])

UFW = make_family("ufw", "network", ("kernel",), "syslog", [
    ("firewall_drop", (3.0, [
        _KTS + "[UFW BLOCK] " + _PKT + _PKT_TCP_TAIL,
        "[UFW BLOCK] " + _PKT + _PKT_TCP_TAIL,
        _KTS + "[UFW BLOCK] " + _PKT + _PKT_UDP_TAIL,
        _KTS + "[UFW LIMIT BLOCK] " + _PKT + _PKT_TCP_TAIL,
        _KTS + "[UFW BLOCK] " + _PKT_ICMP,
    ])),
    ("connection_opened", [
        _KTS + "[UFW ALLOW] " + _PKT + _PKT_TCP_TAIL,
    ]),
    ("other", [
        _KTS + "[UFW AUDIT] " + _PKT + _PKT_TCP_TAIL,
    ]),
])

_OVPN_PEER = "{ip:sip}:{port:sport}"
_OVPN_USER_PEER = "{plain_user:user}/{ip:sip}:{port:sport}"
OPENVPN = make_family("openvpn", "network", ("openvpn", "ovpn-server", "openvpn-server"), "syslog", [
    ("login_failed", (2.0, [
        _OVPN_PEER + " TLS Auth Error: Auth Username/Password verification failed for peer",
        _OVPN_PEER + " PLUGIN_CALL: POST /usr/lib/openvpn/openvpn-plugin-auth-pam.so/PLUGIN_AUTH_USER_PASS_VERIFY status=1",
        "AUTH-PAM: BACKGROUND: user '{plain_user:user}' failed to authenticate: Authentication failure",
        _OVPN_PEER + " WARNING: Failed running command (--auth-user-pass-verify): external program exited with error status: 1",
        _OVPN_USER_PEER + " TLS Auth Error: Auth Username/Password verification failed for peer",
    ])),
    ("connection_rejected", (2.0, [
        "TLS Error: incoming packet authentication failed from [AF_INET]" + _OVPN_PEER,
        _OVPN_PEER + " TLS Error: TLS handshake failed",
        _OVPN_PEER + " TLS Error: TLS key negotiation failed to occur within 60 seconds (check your network connectivity)",
        _OVPN_PEER + " VERIFY ERROR: depth=0, error=certificate has expired: CN={plain_user}",
        _OVPN_PEER + " TLS_ERROR: BIO read tls_read_plaintext error",
        "TLS Error: cannot locate HMAC in incoming packet from [AF_INET]" + _OVPN_PEER,
        _OVPN_PEER + " Non-OpenVPN client protocol detected",
        _OVPN_PEER + " SIGUSR1[soft,{|connection-reset|tls-error}] received, client-instance restarting",
    ])),
    ("connection_opened", [
        _OVPN_PEER + " Peer Connection Initiated with [AF_INET]" + _OVPN_PEER,
        _OVPN_PEER + " [{plain_user:user}] Peer Connection Initiated with [AF_INET]" + _OVPN_PEER,
        _OVPN_USER_PEER + " MULTI_sva: pool returned IPv4={ipv4}, IPv6=(Not enabled)",
    ]),
    ("login_success", [
        _OVPN_PEER + " TLS: Username/Password authentication succeeded for username '{plain_user:user}'",
    ]),
    ("connection_closed", [
        _OVPN_USER_PEER + " SIGTERM[soft,remote-exit] received, client-instance exiting",
        _OVPN_USER_PEER + " Connection reset, restarting [0]",
    ]),
    ("other", [
        _OVPN_USER_PEER + " Data Channel: using negotiated cipher 'AES-256-GCM'",
        "Initialization Sequence Completed",
        _OVPN_PEER + " VERIFY OK: depth=1, CN={word} CA",
    ]),
])

WIREGUARD = make_family("wireguard", "network", ("kernel", "wg-quick"), "syslog", [
    ("connection_rejected", [
        _KTS + "wireguard: {|wg0|wg1}: Invalid handshake initiation from {ip:sip}:{port:sport}",
        _KTS + "wireguard: {|wg0|wg1}: Invalid MAC of handshake, dropping packet from {ip:sip}:{port:sport}",
        _KTS + "wireguard: {|wg0|wg1}: Packet has unallowed src IP ({ip}) from peer {small} ({ip:sip}:{port:sport})",
    ]),
    ("connection_opened", [
        _KTS + "wireguard: {|wg0|wg1}: Receiving handshake initiation from peer {small} ({ip:sip}:{port:sport})",
        _KTS + "wireguard: {|wg0|wg1}: Keypair {count} created for peer {small}",
    ]),
    ("other", [
        _KTS + "wireguard: {|wg0|wg1}: Handshake for peer {small} ({ip}:{port}) did not complete after 5 seconds, retrying (try {small})",
        _KTS + "wireguard: {|wg0|wg1}: Sending keepalive packet to peer {small} ({ip}:{port})",
        "[#] ip link add wg0 type wireguard",
    ]),
])

DHCP = make_family("dhcp", "network", ("dhcpd", "dhclient", "dnsmasq-dhcp", "NetworkManager", "systemd-networkd"), "syslog", [
    ("other", [
        "DHCPDISCOVER from {mac} via {iface}",
        "DHCPOFFER on {ipv4} to {mac} via {iface}",
        "DHCPREQUEST for {ipv4} ({ipv4}) from {mac} ({short_host}) via {iface}",
        "DHCPACK on {ipv4} to {mac} ({short_host}) via {iface}",
        "DHCPACK({iface}) {ipv4} {mac} {short_host}",
        "DHCPREQUEST of {ipv4} on {iface} to {ipv4} port 67",
        "bound to {ipv4} -- renewal in {count} seconds.",
        "{iface}: DHCPv4 address {ipv4}/24, gateway {ipv4} acquired from {ipv4}",
        "<info>  [{ts_epoch}] dhcp4 ({iface}): state changed new lease, address={ipv4}",
        "DHCPRELEASE of {ipv4} from {mac} via {iface} (found)",
    ]),
])

NTP = make_family("ntp", "network", ("chronyd", "ntpd", "systemd-timesyncd"), "syslog", [
    ("other", [
        "Selected source {ip} ({hostname})",
        "System clock wrong by {ntp_offset} seconds",
        "Source {ip} replaced with {ip} ({hostname})",
        "Can't synchronise: no selectable sources",
        "Initial synchronization to time server {ip}:123 ({hostname}).",
        "Timed out waiting for reply from {ip}:123 ({hostname}).",
        "ntpd {version}@1.2349-o Mon Jan  1 00:00:00 UTC 2024 (1): Starting",
        "Listen normally on {small} {iface} {ip}:123",
        "kernel reports TIME_ERROR: 0x41: Clock Unsynchronized",
        "chronyd version 4.{small} starting (+CMDMON +NTP +REFCLOCK +RTC +PRIVDROP +SCFILTER +SIGND +ASYNCDNS +NTS +SECHASH +IPV6 -DEBUG)",
    ]),
])

BIND = make_family("bind", "network", ("named",), "syslog", [
    ("connection_rejected", (2.0, [
        "client @0x{hex_id} {ip:sip}#{port:sport} ({vhost}): query (cache) '{vhost}/A/IN' denied",
        "client @0x{hex_id} {ip:sip}#{port:sport} ({vhost}): query '{vhost}/ANY/IN' denied",
        "client {ip:sip}#{port:sport} ({vhost}): zone transfer '{vhost}/AXFR/IN' denied",
        "client @0x{hex_id} {ip:sip}#{port:sport} ({vhost}): update '{vhost}/IN' denied",
        "rate limit drop response to {ip:sip}/24 for {vhost} IN ANY  ({hex_id})",
    ])),
    ("other", (2.0, [
        "client @0x{hex_id} {ip:sip}#{port:sport} ({vhost}): query: {vhost} IN {|A|AAAA|MX|TXT} +E(0)K ({ip})",
        "zone {vhost}/IN: loaded serial {count}",
        "resolver priming query complete",
        "network unreachable resolving '{vhost}/A/IN': 2001:500:2::c#53",
        "managed-keys-zone: Key {count} for zone . is now trusted (acceptance timer complete)",
    ])),
])

NSD = make_family("nsd", "network", ("nsd",), "syslog", [
    ("connection_rejected", (2.0, [
        "{|info: |notice: |}axfr for zone {vhost}. from client {ip:sip} refused, no acl matches",
        "{|info: |}ixfr for zone {vhost}. from client {ip:sip} refused, no acl matches",
        "{|info: |}notify for zone {vhost}. from client {ip:sip} refused, no acl matches",
    ])),
    ("rate_limited", [
        # The target is the client's network (a prefix, not an address); the query's
        # address is the client.
        "{|info: |}ratelimit block {vhost}. type {|any|A|TXT} target {ip}/24 query {ip:sip} TYPE{|255|1|16}",
        "{|info: |}ratelimit block {vhost}. type any target {ip}/{|24|56}",
    ]),
    ("other", (2.0, [
        "{|info: |}ratelimit unblock ~ {vhost}. (ratelimit {small}) ",
        "{|info: |}zone {vhost}. read with success",
        "{|notice: |}nsd started (NSD 4.{small}.{small}), pid {pid}",
        "{|info: |}axfr for zone {vhost}. from client {ip} (allowed by key {word})",
        "{|info: |}server {count}: served {count} queries",
    ])),
])

_SURI_FAST = ("{ts_suricata:ts}  [**] [1:{signature_id}:{small}] {et_signature} [**] [Classification: {classification}] "
              "[Priority: {small}] {{{|TCP|UDP|ICMP}}} {ip:sip}:{port:sport} -> {ip:dip}:{service_port:dport}")
SURICATA = make_family("suricata", "network", ("suricata",), "file", [
    ("intrusion_detected", (3.0, [
        _SURI_FAST,
        '{{"timestamp":"{ts_mysql:ts}","flow_id":{flow_id},"in_iface":"{iface}","event_type":"alert","src_ip":"{ip:sip}","src_port":{port:sport},"dest_ip":"{ip:dip}","dest_port":{service_port:dport},"proto":"TCP","alert":{{"action":"allowed","gid":1,"signature_id":{signature_id},"rev":{small},"signature":"{et_signature}","category":"{classification}","severity":{small}}}}}',
        '{{"timestamp":"{ts_mysql:ts}","flow_id":{flow_id},"event_type":"alert","src_ip":"{ip:sip}","src_port":{port:sport},"dest_ip":"{ip:dip}","dest_port":{service_port:dport},"proto":"TCP","alert":{{"action":"blocked","signature_id":{signature_id},"signature":"{et_signature}","severity":1}},"http":{{"hostname":"{vhost}","url":"{attack_url:url}","http_user_agent":"{attacker_agent:ua}","http_method":"{method:method}","status":{status:status}}}}}',
    ])),
    ("other", [
        '{{"timestamp":"{ts_mysql:ts}","flow_id":{flow_id},"event_type":"flow","src_ip":"{ip:sip}","src_port":{port:sport},"dest_ip":"{ip:dip}","dest_port":{service_port:dport},"proto":"UDP","flow":{{"pkts_toserver":{count},"bytes_toserver":{size},"state":"established"}}}}',
        '{{"timestamp":"{ts_mysql:ts}","event_type":"stats","stats":{{"uptime":{count},"capture":{{"kernel_packets":{size},"kernel_drops":{small}}}}}}}',
        "{ts_suricata:ts} - <Notice> - This is Suricata version 7.0.{small} RELEASE running in SYSTEM mode",
    ]),
], escape_json=True)

SNORT = make_family("snort", "network", ("snort",), "syslog", [
    ("intrusion_detected", (3.0, [
        "[1:{signature_id}:{small}] {et_signature} [Classification: {classification}] [Priority: {small}]: {{{|TCP|UDP}}} {ip:sip}:{port:sport} -> {ip:dip}:{service_port:dport}",
        "[1:{small}{count}:{small}] {|SCAN nmap XMAS|ICMP PING NMAP|SQL injection attempt|SERVER-WEBAPP /etc/passwd access attempt} [Classification: {classification}] [Priority: {small}]: {{{|TCP|ICMP}}} {ip:sip} -> {ip:dip}",
        "{ts_suricata:ts}  [**] [1:{signature_id}:{small}] {et_signature} [**] [Priority: {small}] {{TCP}} {ip:sip}:{port:sport} -> {ip:dip}:{service_port:dport}",
    ])),
    ("other", [
        "Commencing packet processing (pid={pid})",
        "Snort initialization completed successfully (pid={pid})",
    ]),
])

_F2B = "{ts_comma:ts} fail2ban.{|actions|filter|jail|server}{|        | } [{pid:pid}]: "
FAIL2BAN = make_family("fail2ban", "network", ("fail2ban-server", "fail2ban"), "file", [
    ("firewall_drop", (2.0, [
        _F2B + "NOTICE  [{jail}] Ban {ip:sip}",
        _F2B + "NOTICE  [{jail}] Restore Ban {ip:sip}",
        _F2B + "WARNING [{jail}] {ip:sip} already banned",
        "[{jail}] Ban {ip:sip}",
    ])),
    ("intrusion_detected", (2.0, [
        _F2B + "INFO    [{jail}] Found {ip:sip} - {ts_comma}",
        _F2B + "INFO    [{jail}] Found {ip:sip}",
        "[{jail}] Found {ip:sip} - {ts_comma}",
    ])),
    ("other", [
        _F2B + "NOTICE  [{jail}] Unban {ip:sip}",
        _F2B + "INFO    [{jail}] Ignore {ip:sip} by ip",
        _F2B + "INFO    Connected to fail2ban persistent database '/var/lib/fail2ban/fail2ban.sqlite3'",
        _F2B + "INFO    [{jail}] Jail is in operation now (process new journal entries)",
    ]),
    ("service_start", [_F2B + "INFO    Jail '{jail}' started", _F2B + "INFO    Starting Fail2ban v1.0.{small}"]),
    ("service_stop", [_F2B + "INFO    Jail '{jail}' stopped", _F2B + "INFO    Shutdown in progress..."]),
])

SSHGUARD = make_family("sshguard", "network", ("sshguard",), "syslog", [
    ("firewall_drop", [
        "Blocking \"{ip:sip}/{|32|24|128|64}\" for {count} secs ({small} attacks in {count} secs, after {small} abuses over {count} secs.)",
        "Blocking {ip:sip}:{count} for >{count}secs: {small} danger in {small} attacks over {count} seconds (all: {count}d in {small} abuses over {count}s).",
    ]),
    ("intrusion_detected", [
        "Attack from \"{ip:sip}\" on service {|SSH|100|Sendmail|Dovecot|Postfix} with danger {small}0.",
        "Attack from \"{ip:sip}\" on service {count} with danger 10.",
    ]),
    ("other", ["Now monitoring attacks.", "Exiting on signal.", "Releasing {ip:sip} after {count} seconds"]),
])

# strongSwan's IKE daemon (charon, charon-systemd), from its bus messages
# (src/libcharon: "received packet: from %#H to %#H", "%H is initiating an IKE_SA", ...).
# The peer is the remote end of every exchange: the sender of a received packet and the
# receiver of a sent one, the right-hand side of "local...remote".
_SW_THREAD = "{@05|06|07|08|09|10|11|12|13|14|15|16:var}"
# The connection prefix `<name|unique-id> ` (a literal `|`, so not inside a `{|...}` choice).
_SW_CONNS = ("", "<{word}|{small}> ", "<{uuid}|{count}> ")
_SW_SA = "{word}[{small}]"
_SW_PEER_PORT = "{|{@500|4500:sport}|{port:sport}}"


def _sw(group: str, templates: list[str]) -> list[str]:
    """Each template behind charon's `NN[GRP] ` and each connection prefix."""
    return [f"{_SW_THREAD}[{group}] {conn}{t}" for t in templates for conn in _SW_CONNS]


STRONGSWAN = make_family("strongswan", "network", ("charon", "charon-systemd", "ipsec"), "syslog", [
    # Most of a charon log: every IKE packet, both ways. "from <local> to <peer>" on the
    # sending side goes against the "from X" = peer habit of every other family.
    ("other", (4.0, _sw("NET", [
        "received packet: from {ip:sip}[" + _SW_PEER_PORT + "] to {ip:dip}[{@500|4500:dport}] ({size} bytes)",
        "sending packet: from {ip:dip}[{@500|4500:dport}] to {ip:sip}[" + _SW_PEER_PORT + "] ({size} bytes)",
        "sending packet: from {ip:dip}[{@500|4500:dport}] to {ip:sip}[" + _SW_PEER_PORT + "] ({size} bytes)",
    ]))),
    ("other", (2.0, _sw("ENC", [
        "parsed IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) ]",
        "generating IKE_AUTH response {small} [ IDr AUTH EAP/REQ/ID ]",
        "splitting IKE message ({size} bytes) into {small} fragments",
    ]) + _sw("IKE", [
        "sending cert request for \"C={|US|DE|FR}, O={word}, CN={word} CA\"",
        "remote host is behind NAT",
    ]))),
    ("connection_opened", _sw("IKE", [
        "{ip:sip} is initiating an IKE_SA",
        "{ip:sip} is initiating a Main Mode IKE_SA",
        "{ip:sip} is initiating an Aggressive Mode IKE_SA",
    ])),
    ("login_success", _sw("IKE", [
        "IKE_SA " + _SW_SA + " established between {ip:dip}[{vhost}]...{ip#p:sip}[{|{ip#p}|{plain_user:user}|{email:user}}]",
        "authentication of '{|{plain_user:user}|{email:user}}' with EAP successful",
        "peer {ip:sip} authenticated with EAP-MSCHAPv2 as '{plain_user:user}'",
    ])),
    ("login_failed", (2.0, _sw("IKE", [
        "EAP method EAP_MSCHAPV2 failed for peer {ip:sip}",
        "authentication of '{|{ip:sip}|{plain_user:user}|{email:user}}' with pre-shared key failed",
        "received AUTHENTICATION_FAILED notify error",
        "EAP-MS-CHAPv2 verification failed, retry ({small})",
        "RADIUS authentication of '{plain_user:user}' failed",
    ]))),
    ("connection_rejected", _sw("IKE", [
        "no IKE config found for {ip:dip}...{ip:sip}, sending NO_PROPOSAL_CHOSEN",
        "received proposals unacceptable",
        "peer {ip:sip} did not respond, giving up",
    ]) + _sw("CFG", ["no matching peer config found"])),
    ("connection_closed", _sw("IKE", [
        "deleting IKE_SA " + _SW_SA + " between {ip:dip}[{vhost}]...{ip:sip}[{|{plain_user:user}|{ip}}]",
        "IKE_SA deleted",
        "received DELETE for IKE_SA " + _SW_SA,
    ])),
])

FAMILIES: tuple[Family, ...] = (
    IPTABLES, UFW, OPENVPN, WIREGUARD, DHCP, NTP, BIND, NSD, SURICATA, SNORT, FAIL2BAN, SSHGUARD,
    STRONGSWAN,
)
